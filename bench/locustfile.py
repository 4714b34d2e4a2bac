"""Open tabs polling the list page: ``locust -f bench/locustfile.py --headless -u 100 …``.

Each simulated tab reuses one of a few signed-in sessions that the harness prepared (the session
cookie and the poll URL parsed from the list page's poller, in ``BENCH_LOCUST_SESSIONS`` as JSON)
and polls like htmx's ``hx-trigger="every 2s"``: a request every BYCLOUD_POLL_SECONDS whatever
the response time (constant pacing), with the headers htmx sends.

Run alone (without the harness) it signs in with the demo token itself.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from typing import Any

import gevent
from locust import FastHttpUser, constant_pacing, task

POLL_SECONDS = float(os.environ.get("BYCLOUD_POLL_SECONDS", "2"))
SESSIONS: list[dict[str, str]] = json.loads(os.environ.get("BENCH_LOCUST_SESSIONS", "[]"))
_next_session = itertools.cycle(range(max(1, len(SESSIONS))))
POLLER = re.compile(r"<[^>]*hx-trigger=\"[^\"]*every[^\"]*\"[^>]*>")
HX_GET = re.compile(r'hx-get="([^"]+)"')
#: The sign-in form's first region (`local`, or `spo1` under make run and make cluster).
FIRST_REGION = re.compile(r'<select[^>]*name="region"[^>]*>\s*<option value="([^"]+)"')


class OpenTab(FastHttpUser):
    wait_time = constant_pacing(POLL_SECONDS)

    def on_start(self) -> None:
        # Tabs are opened at different moments: without this, locust's spawning in batches
        # phase-locks them and every interval starts with a burst no real browser sends.
        gevent.sleep(random.uniform(0, POLL_SECONDS))
        if SESSIONS:
            session = SESSIONS[next(_next_session)]
            self.cookie = f"bycloud_session={session['cookie']}"
            self.poll_url = session["poll"]
        else:
            self._sign_in()
            self.poll_url = self._poll_url_from_list()

    def _sign_in(self) -> None:
        form = self.client.get("/signin", name="signin form")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        region = FIRST_REGION.search(form.text)
        data: dict[str, Any] = {
            "method": "token",
            "access_token": "demo-token",
            "region": region.group(1) if region else "local",
            "csrfmiddlewaretoken": token.group(1) if token else "",
        }
        self.client.post(
            "/signin", data=data, headers={"Referer": f"{self.host}/signin"}, name="signin"
        )

    def _poll_url_from_list(self) -> str:
        page = self.client.get("/", name="list page").text
        poller = POLLER.search(page)
        found = HX_GET.search(poller.group(0)) if poller else None
        return found.group(1).replace("&amp;", "&") if found else "/backups/status"

    @task
    def poll(self) -> None:
        headers = {"HX-Request": "true", "HX-Current-URL": f"{self.host}/"}
        if getattr(self, "cookie", ""):
            headers["Cookie"] = self.cookie
        with self.client.get(
            self.poll_url, headers=headers, name="poll", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code not in (200, 204, 286):
                error = getattr(response, "error", None)
                response.failure(f"HTTP {response.status_code} {error!r}"[:200])
            else:
                response.success()
                self._follow(response.text if response.status_code == 200 else "")

    def _follow(self, fragment: str) -> None:
        """A poll that changed something may swap in a poller with a new URL (htmx follows it)."""
        poller = POLLER.search(fragment)
        found = HX_GET.search(poller.group(0)) if poller else None
        if found:
            self.poll_url = found.group(1).replace("&amp;", "&")
