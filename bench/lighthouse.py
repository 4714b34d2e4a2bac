"""Lighthouse 12 (from the npm registry, cached in bench/.node/) on Debian's Chromium, signed in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.console import SESSION_COOKIE

NODE_DIR = Path(__file__).resolve().parent / ".node"
LIGHTHOUSE = NODE_DIR / "node_modules" / ".bin" / "lighthouse"
PACKAGE = "lighthouse@12"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"
ATTEMPTS = 2
CATEGORIES = ("performance", "accessibility", "best-practices")


def chrome_path() -> str | None:
    candidate = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    return candidate if Path(candidate).exists() else shutil.which("chromium")


def ensure_lighthouse() -> Path:
    """Install lighthouse@12 into bench/.node/ once (npm, never globally)."""
    if LIGHTHOUSE.exists():
        return LIGHTHOUSE
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing: cannot install lighthouse")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", PACKAGE],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return LIGHTHOUSE


def audit(url: str, session_cookie: str, out_dir: Path) -> dict[str, Any]:
    """Scores of one signed-in page (mobile preset, simulated throttling: Lighthouse's default)."""
    chrome = chrome_path()
    if chrome is None:
        raise RuntimeError("Chromium is missing (install Debian's chromium package)")
    report = out_dir / f"lighthouse-{abs(hash(url))}.json"
    argv = [str(ensure_lighthouse()), url, "--quiet", "--output=json", f"--output-path={report}"]
    argv += [f"--chrome-flags={CHROME_FLAGS}", f"--only-categories={','.join(CATEGORIES)}"]
    argv += [f"--extra-headers={json.dumps({'Cookie': f'{SESSION_COOKIE}={session_cookie}'})}"]
    env = {**os.environ, "CHROME_PATH": chrome}
    for attempt in range(1, ATTEMPTS + 1):  # Chromium under load sometimes fails to start
        report.unlink(missing_ok=True)
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=240, check=False
        )
        if result.returncode == 0 and report.exists():
            break
        if attempt == ATTEMPTS:
            output = (result.stderr + result.stdout).strip()[-1500:]
            raise RuntimeError(f"lighthouse failed on {url} (exit {result.returncode}): {output}")
    data = json.loads(report.read_text())
    scores = {name: data["categories"][name]["score"] for name in CATEGORIES}
    return {
        "url": url,
        "attempts": attempt,
        "final_url": data.get("finalDisplayedUrl") or data.get("finalUrl"),
        "scores": scores,
        "failed_audits": _failed_audits(data),
    }


def _failed_audits(data: dict[str, Any]) -> list[str]:
    """Audits that cost points (score below 0.9), to say what to fix."""
    failed = []
    for category in CATEGORIES:
        for ref in data["categories"][category]["auditRefs"]:
            result = data["audits"].get(ref["id"], {})
            score = result.get("score")
            if ref.get("weight", 0) > 0 and score is not None and score < 0.9:
                failed.append(f"{category}: {ref['id']} ({score})")
    return failed
