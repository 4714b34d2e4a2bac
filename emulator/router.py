"""A tiny router: path templates with {name} segments, matched per method."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]


@dataclass(frozen=True)
class Match:
    route: Route | None  # None: no route for this method (see allowed) or no path at all
    params: dict[str, str]
    allowed: tuple[str, ...]  # methods the path supports; empty when the path is unknown


class Router:
    def __init__(self, routes: list[tuple[str, str, Callable[..., Any]]]) -> None:
        self.routes = [
            Route(method, template, _compile(template), handler)
            for method, template, handler in routes
        ]

    def match(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return Match(route, found.groupdict(), ())
            allowed.append(route.method)
        return Match(None, {}, tuple(sorted(set(allowed))))


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(
        r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
    )
    return re.compile(regex)
