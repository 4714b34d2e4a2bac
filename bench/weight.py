"""Page weight: a cold load of the list page, every byte as transferred, and third parties."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from bench.console import SESSION_COOKIE, Element, parse_elements

ACCEPT_ENCODING = "gzip, br"
RESOURCE_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "apple-touch-icon"}
EMBEDDING_TAGS = {"script", "img", "iframe", "source", "audio", "video", "embed"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def resource_urls(elements: list[Element]) -> list[str]:
    """What a browser fetches by itself: stylesheets, icons, scripts, images, media sources."""
    urls: list[str] = []
    for element in elements:
        attrs = element.attrs
        rels = set(attrs.get("rel", "").lower().split())
        if element.tag == "link" and rels & RESOURCE_RELS and attrs.get("href"):
            urls.append(attrs["href"])
        elif element.tag in EMBEDDING_TAGS and attrs.get("src"):
            urls.append(attrs["src"])
        if attrs.get("srcset"):
            urls += [part.split()[0] for part in attrs["srcset"].split(",") if part.strip()]
    return urls


def external_references(elements: list[Element], origin: str) -> list[str]:
    """Any absolute URL in any attribute that points elsewhere (links included, for the record)."""
    found: list[str] = []
    for element in elements:
        for value in element.attrs.values():
            if value.startswith(("http://", "https://", "//")) and not _same_origin(value, origin):
                found.append(value)
    return found


def _same_origin(url: str, origin: str) -> bool:
    parts, base = urlsplit(urljoin(origin, url)), urlsplit(origin)
    return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)


def _transferred(http: requests.Session, url: str) -> tuple[int, requests.Response]:
    """Bytes of the body as sent on the wire (still compressed), and the response."""
    response = http.get(url, headers={"Accept-Encoding": ACCEPT_ENCODING}, stream=True, timeout=30)
    raw = response.raw.read(decode_content=False)
    response.close()
    return len(raw), response


def page_weight(console_url: str, session_cookie: str, path: str = "/") -> dict[str, Any]:
    """Cold load (empty browser cache) of ``path``, signed in; CSS ``url()`` followed too."""
    http = requests.Session()
    http.cookies.set(SESSION_COOKIE, session_cookie)
    page_url = urljoin(console_url + "/", path)
    html_bytes, html_response = _transferred(http, page_url)
    html = requests.get(page_url, cookies={SESSION_COOKIE: session_cookie}, timeout=30).text
    elements = parse_elements(html)
    items: list[dict[str, Any]] = [_item(page_url, html_bytes, html_response)]
    queue = [urljoin(page_url, u) for u in resource_urls(elements)]
    seen: set[str] = {page_url}
    third_party = [u for u in queue if not _same_origin(u, console_url)]
    while queue:
        url = queue.pop(0)
        if url in seen or url.startswith("data:") or not _same_origin(url, console_url):
            continue
        seen.add(url)
        size, response = _transferred(http, url)
        items.append(_item(url, size, response))
        if "css" in response.headers.get("Content-Type", ""):
            css = http.get(url, timeout=30).text
            nested = [urljoin(url, a or b) for a, b in CSS_URL.findall(css)]
            third_party += [
                u for u in nested if not u.startswith("data:") and not _same_origin(u, console_url)
            ]
            queue += nested
    return {
        "path": path,
        "total_bytes": sum(i["bytes"] for i in items),
        "requests": len(items),
        "items": items,
        "third_party_requests": sorted(set(third_party)),
        "external_links": sorted(set(external_references(elements, console_url))),
    }


def _item(url: str, size: int, response: requests.Response) -> dict[str, Any]:
    return {
        "url": urlsplit(url).path,
        "status": response.status_code,
        "bytes": size,
        "content_encoding": response.headers.get("Content-Encoding", "identity"),
        "content_type": response.headers.get("Content-Type", "").split(";")[0],
    }
