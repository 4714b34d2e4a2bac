from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from console.navigation import signin_keeping_form


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """An htmx request with a stale token refreshes the page (which gets a fresh token); a form
    posted after its session ended goes to sign-in with what was typed kept."""
    signin = signin_keeping_form(request)
    if signin is not None:
        return signin
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=403)
        response["HX-Refresh"] = "true"
        return response
    return TemplateResponse(request, "errors/csrf.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return TemplateResponse(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "errors/500.html", status=500).render()
