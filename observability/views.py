"""``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus).

None of them reads or writes the session, sets a cookie or needs a CSRF token; every answer is
``Cache-Control: no-store``. ``/metrics`` answers only the addresses in
``BYCLOUD_METRICS_ALLOWED`` (the connecting address, ``REMOTE_ADDR``: scrape each instance
directly; ``X-Forwarded-For`` is not believed here) and is a plain 404 for anyone else.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from observability import health, metrics

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _no_store(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, no_store=True)
    return response


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Never waits for the database, a cache or ByCloud."""
    return _no_store(JsonResponse(health.liveness()))


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database, the cache and every region answer, else 503 naming
    what does not."""
    answer = health.readiness()
    status = 503 if answer["failing"] else 200
    return _no_store(JsonResponse(answer, status=status))


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def metrics_allowed(address: str) -> bool:
    cidrs = tuple(getattr(settings, "BYCLOUD_METRICS_ALLOWED", ("127.0.0.1/32", "::1/128")))
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(cidrs))


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request.META.get("REMOTE_ADDR", "")):
        raise Http404
    body, content_type = metrics.exposition()
    return _no_store(HttpResponse(body, content_type=content_type))
