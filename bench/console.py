"""The console as a browser sees it: sign in, fetch pages and polls, read their HTML."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

from bench.emulator import DEMO_TOKEN

SESSION_COOKIE = "bycloud_session"
USER_AGENT = "bycloud-ui-bench/1"


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


class ElementCollector(HTMLParser):
    """Every start tag with its attributes (enough to find pollers, forms and resources)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))


def parse_elements(html: str) -> list[Element]:
    parser = ElementCollector()
    parser.feed(html)
    parser.close()
    return parser.elements


def pollers(html: str) -> list[Element]:
    """Elements that poll: an ``hx-trigger`` containing ``every`` (one request per interval)."""
    return [e for e in parse_elements(html) if "every" in e.attrs.get("hx-trigger", "")]


def load_triggered(html: str) -> list[Element]:
    """Elements that fetch a fragment as soon as the page loads (``hx-trigger`` ``load``)."""
    return [
        e
        for e in parse_elements(html)
        if "load" in e.attrs.get("hx-trigger", "").replace(",", " ").split() and "hx-get" in e.attrs
    ]


def csrf_token(html: str) -> str:
    for element in parse_elements(html):
        if element.attrs.get("name") == "csrfmiddlewaretoken":
            return element.attrs.get("value", "")
    raise RuntimeError("no csrfmiddlewaretoken in the sign-in form")


def first_region(html: str) -> str:
    """The sign-in form's first region: `local` for the embedded default, `spo1` under
    `make run` and `make cluster` (two emulator regions)."""
    elements = parse_elements(html)
    for i, element in enumerate(elements):
        if element.tag == "select" and element.attrs.get("name") == "region":
            option = next((e for e in elements[i + 1 :] if e.tag == "option"), None)
            if option is not None and option.attrs.get("value"):
                return option.attrs["value"]
    return "local"


@dataclass
class Timed:
    response: requests.Response
    seconds: float


@dataclass
class Console:
    """One browser tab's worth of state: a signed-in ``requests.Session``."""

    url: str
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.http.headers["User-Agent"] = USER_AGENT

    def absolute(self, path: str) -> str:
        return urljoin(self.url + "/", path)

    def sign_in(self, token: str = DEMO_TOKEN) -> None:
        """Like a browser: GET the form (CSRF cookie and token), POST it with a Referer."""
        signin_url = self.absolute("/signin")
        form = self.http.get(signin_url, timeout=30)
        form.raise_for_status()
        data = {
            "method": "token",
            "access_token": token,
            "region": first_region(form.text),
            "csrfmiddlewaretoken": csrf_token(form.text),
        }
        response = self.http.post(
            signin_url, data=data, headers={"Referer": signin_url}, timeout=30
        )
        response.raise_for_status()
        if SESSION_COOKIE not in self.http.cookies:
            raise RuntimeError(f"sign-in failed (HTTP {response.status_code}): no session cookie")

    @property
    def session_cookie(self) -> str:
        return str(self.http.cookies.get(SESSION_COOKIE, ""))

    def get(self, path: str, *, htmx: bool = False, current: str = "/") -> Timed:
        """GET ``path``; the time is until the whole body is read (keep-alive connection)."""
        headers = {}
        if htmx:
            headers = {"HX-Request": "true", "HX-Current-URL": self.absolute(current)}
        start = time.perf_counter()
        response = self.http.get(
            self.absolute(path), headers=headers, timeout=60, allow_redirects=False
        )
        _ = response.content
        seconds = time.perf_counter() - start
        if response.status_code >= 300:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
        return Timed(response, seconds)

    def page(self, path: str) -> Timed:
        return self.get(path)

    def poll(self, path: str, current: str = "/") -> Timed:
        return self.get(path, htmx=True, current=current)
