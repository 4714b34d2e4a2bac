"""`python -m bench.profile [N]`: where the console's own time goes (cProfile, in-process).

Starts the same stack as the bench (emulator at L = 0), then runs the console in this process
with the same settings (Django's test client, no gunicorn) and profiles N list page views and
N polls, printing the functions with the most cumulative and own time.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from typing import Any

from bench.console import pollers
from bench.emulator import DEMO_TOKEN, Emulator
from bench.servers import Stack

TOP = 25
#: Where the time goes, by the function that owns it (cumulative ms per request).
BREAKDOWN = {
    "template rendering": ("response.py", "rendered_content"),
    "API call (ByCloud client, whole)": ("client.py", "_request"),
    "  requests: proxy/env lookup": ("sessions.py", "merge_environment_settings"),
    "  socket connect": ("~", "<method 'connect' of '_socket.socket' objects>"),
    "  waiting for the API (recv)": ("~", "<method 'recv_into' of '_socket.socket' objects>"),
    "  JSON -> models": ("models.py", "from_api"),
    "session load (DB)": ("db.py", "load"),
    "cache get (volume names, DB)": ("db.py", "get"),
    "credential decrypt (Fernet)": ("credential.py", "decrypt_credential"),
    "CSP header": ("middleware.py", "process_response"),
    "gzip": ("text.py", "compress_string"),
}


def _client(env: dict[str, str]) -> Any:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bycloud_ui.settings")
    import django

    django.setup()
    from django.test import Client

    client = Client(enforce_csrf_checks=False, HTTP_HOST="127.0.0.1")
    data = {"method": "token", "access_token": DEMO_TOKEN, "region": "local"}
    response = client.post("/signin", data)
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: HTTP {response.status_code}")
    return client


def _profile(label: str, action: Any, count: int) -> None:
    for _ in range(5):
        action()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        action()
    profiler.disable()
    per_call = (time.perf_counter() - start) / count * 1000
    print(f"\n=== {label}: {per_call:.1f} ms per request under cProfile ({count} requests) ===")
    stats = pstats.Stats(profiler)
    for name, (filename, function) in BREAKDOWN.items():
        total = sum(
            row[3]
            for (path, _, func), row in stats.stats.items()  # type: ignore[attr-defined]
            if func == function and (filename == "~" or path.endswith(filename))
        )
        print(f"  {name:<40} {total / count * 1000:6.2f} ms")
    for sort in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(TOP)
        print(out.getvalue())


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 200
    with Stack() as stack:
        emulator = Emulator(stack.emulator_url)
        emulator.set_rate_limit(1_000_000)
        emulator.seed_to(1000)
        emulator.create_backups(emulator.available_volumes(1, "profile"), "profile")
        client = _client(stack.console_env)
        page = client.get("/")
        found = pollers(page.content.decode())
        _profile("list page (volume names cached)", lambda: client.get("/"), count)
        if found:
            url = found[0].attrs["hx-get"]
            _profile(
                "poll (nothing changed)", lambda: client.get(url, HTTP_HX_REQUEST="true"), count
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
