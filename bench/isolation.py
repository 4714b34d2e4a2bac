"""Figures of issue 8: bounded memory (item 7), tenant isolation (item 4), polls under 503s
(item 5). Each against the running stack (gunicorn, production-like), like the other figures.

- :func:`memory`: a separate 1-worker console on the same emulator and settings; 20 backups with
  900 metadata entries each (~250 B a value: a ~4.7 MiB API list page); N polls of the list with
  distinct filters (name prefixes that all match those 20); the worker's VmRSS before and after
  (``/proc/<pid>/status``) and the sizes of the API page and of the console's list page.
- :func:`tenant_isolation`: tenant B (``other-token``) list page and ``/healthz`` p95, unloaded;
  then the API hangs for tenant A only (fault with ``org: demo``) while 20 tenant-A list views
  run at once, and B is measured again: ratios loaded / unloaded.
- :func:`polls_under_503`: 5 tabs of one credential poll a list with a backup in flight, as htmx
  would (following each answer's poller, its URL and its ``every <ms>``), for N seconds healthy,
  then N seconds with ``GET /v1/backups`` answering 503; API requests counted at the emulator.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.console import Console, pollers
from bench.emulator import DEMO_ORG, Emulator
from bench.servers import PYTHON, REPO_ROOT, Process, Stack, free_port, spawn, wait_until
from bench.stats import ratio, summary_ms

OTHER_TOKEN = "other-token"  # noqa: S105 (the emulator's public second-tenant credential)
MIB = 1024 * 1024
#: 20 backups with 900 metadata entries of ~250 bytes: the measured 4.7 MiB list page.
HEAVY_BACKUPS = 20
HEAVY_ENTRIES = 900
HEAVY_VALUE_BYTES = 250
#: A long common name prefix: each of its prefixes (from 8 characters) is a distinct filter
#: that still matches exactly the 20 heavy backups.
HEAVY_PREFIX = "memtest-" + "m" * 120 + "-"
LIST_ROUTE = "GET /v1/backups"
#: Each tenant-A tab loads the list at most once a second.
A_VIEW_PACING_SECONDS = 1.0


# --- item 7: memory ------------------------------------------------------------------------------


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def start_single_worker_console(stack: Stack) -> tuple[Process, str]:
    """The same console (settings, database, emulator) as ``stack``'s, with one worker."""
    port = free_port()
    argv = [PYTHON, "-m", "gunicorn", "bycloud_ui.wsgi:application"]
    argv += ["--config", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
    env = {**stack.console_env, "WEB_CONCURRENCY": "1"}
    process = spawn("console-1worker", argv, env, stack.workdir)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{url}/healthz", timeout=2).ok, process, timeout=60)
    return process, url


def seed_heavy(emulator: Emulator) -> None:
    emulator.seed(
        HEAVY_BACKUPS,
        DEMO_ORG,
        name_prefix=HEAVY_PREFIX,
        metadata_entries=HEAVY_ENTRIES,
        metadata_value_bytes=HEAVY_VALUE_BYTES,
    )


def memory(stack: Stack, emulator: Emulator, polls: int) -> dict[str, Any]:
    """Seed the heavy backups (once), then measure a fresh 1-worker console's RSS."""
    if not emulator.list_backups_named(f"{HEAVY_PREFIX}*"):
        seed_heavy(emulator)
    api_page = emulator.api.get(
        f"{emulator.url}/v1/backups", params={"limit": 20, "name": f"{HEAVY_PREFIX}*"}, timeout=60
    )
    api_page.raise_for_status()
    process, url = start_single_worker_console(stack)
    try:
        console = Console(url)
        console.sign_in()
        worker = _worker_pid(process.popen.pid)
        page = console.page(f"/?name={HEAVY_PREFIX}")
        console.poll(f"/backups/status?name={HEAVY_PREFIX}&total=0")
        before = _rss_kib(worker)
        started = time.monotonic()
        for i in range(polls):
            prefix = HEAVY_PREFIX[: 8 + i]
            console.poll(f"/backups/status?name={prefix}&total=0&known=")
        seconds = time.monotonic() - started
        after = _rss_kib(worker)
        peak = _rss_kib(worker, "VmHWM")
        detail_id = api_page.json()["backups"][0]["id"]
        detail = console.page(f"/backups/{detail_id}")
        return {
            "backups": HEAVY_BACKUPS,
            "metadata_entries": HEAVY_ENTRIES,
            "metadata_value_bytes": HEAVY_VALUE_BYTES,
            "polls": polls,
            "polls_seconds": round(seconds, 1),
            "worker_rss_before_mib": round(before / 1024, 1),
            "worker_rss_after_mib": round(after / 1024, 1),
            "worker_rss_growth_mib": round((after - before) / 1024, 1),
            "worker_rss_peak_mib": round(peak / 1024, 1),
            "api_list_page_bytes": len(api_page.content),
            "list_page_bytes": len(page.response.content),
            "detail_page_bytes": len(detail.response.content),
            "detail_says_truncated": "metadata entries; the console shows the first"
            in detail.response.text,
        }
    finally:
        process.stop()


# --- item 4: one tenant's hanging API, another tenant's pages ------------------------------------


def _p95_ms(call: Callable[[], Any], reps: int) -> dict[str, Any]:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return summary_ms(samples)


def _tenant_b_figures(b: Console, reps: int) -> dict[str, Any]:
    for _ in range(3):
        b.page("/")
        b.page("/healthz")
    return {
        "list": _p95_ms(lambda: b.page("/"), reps),
        "healthz": _p95_ms(lambda: b.page("/healthz"), reps),
    }


def tenant_isolation(
    stack: Stack, emulator: Emulator, reps: int, hanging_views: int = 20, hang_seconds: float = 15
) -> dict[str, Any]:
    emulator.set_latency(0)
    b = Console(stack.console_url)
    b.sign_in(OTHER_TOKEN)
    a = Console(stack.console_url)
    a.sign_in()
    unloaded = _tenant_b_figures(b, reps)

    stop = threading.Event()
    outcomes: list[int] = []
    lock = threading.Lock()

    def tenant_a_tab() -> None:
        session = requests.Session()
        session.cookies.update(a.http.cookies)
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = session.get(f"{stack.console_url}/", timeout=60).status_code
            except requests.RequestException:
                status = 0
            with lock:
                outcomes.append(status)
            # A refused view (429 at once) is loaded again after the rest of a second, as a
            # user reloads; a hanging one holds its tab until the console gives up on it.
            stop.wait(max(0.0, A_VIEW_PACING_SECONDS - (time.monotonic() - started)))

    emulator.set_faults({"hang_seconds": hang_seconds, "org": DEMO_ORG})
    threads = [threading.Thread(target=tenant_a_tab, daemon=True) for _ in range(hanging_views)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # every tenant-A view is in flight (or refused) before B is measured
        loaded = _tenant_b_figures(b, reps)
    finally:
        stop.set()
        emulator.set_latency(0)
        for thread in threads:
            thread.join(hang_seconds + 15)
    statuses = {str(s): outcomes.count(s) for s in sorted(set(outcomes))}
    return {
        "hanging_views": hanging_views,
        "hang_seconds": hang_seconds,
        "unloaded": unloaded,
        "loaded": loaded,
        "tenant_a_statuses": statuses,
        "list_p95_ratio": ratio(loaded["list"]["p95_ms"], unloaded["list"]["p95_ms"]),
        "healthz_p95_ratio": ratio(loaded["healthz"]["p95_ms"], unloaded["healthz"]["p95_ms"]),
    }


# --- item 5: API requests per tab-minute, healthy and under 503s ---------------------------------

_EVERY = re.compile(r"every\s+(\d+)ms")


class Tab(threading.Thread):
    """One browser tab's poller, as htmx runs it: GET the poll URL every interval; a 204 keeps
    the poller; a 286 stops it; any other answer brings the next poller (out of band or in
    the poll note), whose ``hx-get`` and ``every <ms>`` are followed."""

    def __init__(self, base: str, cookies: Any, url: str, interval_ms: int, until: float) -> None:
        super().__init__(daemon=True)
        self.base, self.url, self.interval_ms, self.until = base, url, interval_ms, until
        self.http = requests.Session()
        self.http.cookies.update(cookies)
        self.statuses: list[int] = []

    def run(self) -> None:
        time.sleep(random.uniform(0, self.interval_ms / 1000))  # tabs opened at various times
        while time.monotonic() + self.interval_ms / 1000 < self.until:
            time.sleep(self.interval_ms / 1000)
            headers = {"HX-Request": "true", "HX-Current-URL": f"{self.base}/"}
            response = self.http.get(self.base + self.url, headers=headers, timeout=60)
            self.statuses.append(response.status_code)
            if response.status_code == 286:
                return
            if response.status_code == 204:
                continue
            found = pollers(response.text)
            if not found:
                return  # an inert poller: htmx stops
            self.url = found[-1].attrs.get("hx-get") or self.url
            match = _EVERY.search(found[-1].attrs.get("hx-trigger", ""))
            if match:
                self.interval_ms = int(match.group(1))


def _poll_url_of(console: Console) -> tuple[str, int]:
    """The list page's poller: its URL and interval (the page is loaded while ByCloud answers)."""
    found = pollers(console.page("/").response.text)
    if not found:
        raise RuntimeError("the list has nothing in flight: no poller")
    match = _EVERY.search(found[0].attrs["hx-trigger"])
    return found[0].attrs["hx-get"], int(match.group(1)) if match else 2000


def _run_tabs(
    console: Console,
    emulator: Emulator,
    tabs: int,
    seconds: float,
    faults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``tabs`` tabs opened on the list (healthy), then polling for ``seconds`` with ``faults``
    in force; the API's list requests counted at the emulator."""
    url, interval = _poll_url_of(console)
    if faults:
        emulator.set_faults(faults)
    try:
        emulator.reset_stats()
        until = time.monotonic() + seconds
        running = [
            Tab(console.url, console.http.cookies, url, interval, until) for _ in range(tabs)
        ]
        for tab in running:
            tab.start()
        for tab in running:
            tab.join(seconds + 70)
        api = int(emulator.stats()["by_route"].get(LIST_ROUTE, 0))
    finally:
        emulator.set_latency(0)
    statuses = [s for tab in running for s in tab.statuses]
    return {
        "seconds": seconds,
        "tabs": tabs,
        "polls": len(statuses),
        "poll_statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "api_requests": api,
        "api_requests_per_tab_minute": round(api / (tabs * seconds / 60), 2),
    }


#: Every list read fails with a 503 (ByCloud down for this route).
FAULT_503 = {
    "error_rate": 1.0,
    "error_status": 503,
    "methods": ["GET"],
    "path_prefix": "/v1/backups",
}


def polls_under_503(
    stack: Stack, emulator: Emulator, tabs: int = 5, seconds: float = 30
) -> dict[str, Any]:
    emulator.set_latency(0)
    console = Console(stack.console_url)
    console.sign_in()
    if not pollers(console.page("/").response.text):
        volumes = emulator.available_volumes(1, "bench-503")
        emulator.create_backups(volumes, "bench-503")
    healthy = _run_tabs(console, emulator, tabs, seconds)
    failing = _run_tabs(console, emulator, tabs, seconds, FAULT_503)
    return {
        "healthy": healthy,
        "under_503": failing,
        "ratio": ratio(
            failing["api_requests_per_tab_minute"], healthy["api_requests_per_tab_minute"]
        ),
    }
