"""Reading what a view answered: the HTML through a parser, and the API calls it made.

Assert on elements (`one(response, "input[name=token]")`), their attributes (`element["value"]`,
`element.has_attr("disabled")`) and their text (`text_of(element)`), never on the markup's
spelling: a regex over HTML passes or fails on attribute order and whitespace, not behaviour.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from bs4 import BeautifulSoup, Comment, Doctype, Tag

__all__ = [
    "Tag",
    "calls",
    "html",
    "in_templates",
    "input_value",
    "one",
    "query",
    "query_lists",
    "roots",
    "select",
    "soup",
    "text",
    "text_of",
    "textarea_value",
    "with_text",
]


# --- HTML -----------------------------------------------------------------------------------


def html(response: Any) -> str:
    """The response body as text (for what must *not* be anywhere in it, such as a secret).
    A string is taken as the body itself."""
    return response if isinstance(response, str) else response.content.decode()


def soup(response: Any) -> BeautifulSoup:
    """The parsed body, parsed once per response. `class` stays one string, as written."""
    if isinstance(response, str):
        return BeautifulSoup(response, "html.parser", multi_valued_attributes=None)
    parsed = getattr(response, "_parsed_html", None)
    if parsed is None:
        parsed = BeautifulSoup(html(response), "html.parser", multi_valued_attributes=None)
        response._parsed_html = parsed
    return parsed


def _scope(where: Any) -> Tag:
    return where if isinstance(where, Tag) else soup(where)


def select(where: Any, selector: str) -> list[Tag]:
    """Every element matching a CSS selector, in a response or below an element."""
    return list(_scope(where).select(selector))


def one(where: Any, selector: str) -> Tag:
    """The one element matching a CSS selector; fails when there is none or more than one."""
    found = select(where, selector)
    assert len(found) == 1, f"{len(found)} elements match {selector!r}"
    return found[0]


def in_templates(where: Any, selector: str) -> list[Tag]:
    """Elements matching a CSS selector inside the `<template>`s (how htmx sends out-of-band
    table rows); CSS selection does not look into a template's content."""
    found: list[Tag] = []
    for template in _scope(where).find_all("template"):
        content = BeautifulSoup(
            template.decode_contents(), "html.parser", multi_valued_attributes=None
        )
        found.extend(content.select(selector))
    return found


def with_text(where: Any, selector: str, wanted: str) -> list[Tag]:
    """The elements matching a CSS selector whose text (as `text_of`) is exactly `wanted`."""
    return [element for element in select(where, selector) if text_of(element) == wanted]


def roots(response: Any) -> list[Tag]:
    """A fragment's top-level elements; fails if loose text stands between them."""
    top = soup(response).contents
    loose = [
        node for node in top if not isinstance(node, (Tag, Comment, Doctype)) and str(node).strip()
    ]
    assert not loose, f"text outside any element: {loose!r}"
    return [node for node in top if isinstance(node, Tag)]


def text_of(element: Tag) -> str:
    """An element's text as a user reads it: tags dropped, whitespace collapsed."""
    return " ".join(element.get_text(" ").split())


def text(response: Any) -> str:
    """The page's text, without scripts and styles: what a user reads."""
    page = BeautifulSoup(html(response), "html.parser")
    for hidden in page.find_all(["script", "style"]):
        hidden.decompose()
    return text_of(page)


def input_value(response: Any, name: str) -> str:
    """The value of the one input called `name` ("" when it has none)."""
    return str(one(response, f'input[name="{name}"]').get("value", ""))


def textarea_value(response: Any, name: str) -> str:
    return one(response, f'textarea[name="{name}"]').get_text().strip()


# --- API calls (a `responses.RequestsMock`) -------------------------------------------------


def calls(api: responses.RequestsMock, method: str | None, url_prefix: str) -> list[Any]:
    """The calls made with `method` (any, for None) to a URL starting with `url_prefix`."""
    return [
        call
        for call in api.calls
        if (method is None or call.request.method == method)
        and call.request.url.startswith(url_prefix)
    ]


def query_lists(call: Any) -> dict[str, list[str]]:
    """A call's query string, every value of every parameter."""
    return parse_qs(urlsplit(call.request.url).query)


def query(call: Any) -> dict[str, str]:
    """A call's query string, the first value of each parameter."""
    return {key: values[0] for key, values in query_lists(call).items()}
