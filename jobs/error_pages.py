"""What a client meets when something goes wrong: JSON `{"detail": ...}` under /api/, a page on the site,
and never a traceback (Django's own debug pages only appear with DEBUG on).

The handler40x/500 views are named in editor_site/urls.py; CSRF_FAILURE_VIEW is csrf_failure; the middleware
gives a body to the empty error responses Django's decorators return (405 from require_GET, say).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

API_PREFIX = "/api/"
# Status: (page title, what the client is told).
ERRORS = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You are not allowed to do that."),
    404: ("Not found", "There is nothing at this address. The video may have been deleted."),
    405: ("Not allowed", "This address does not take that kind of request."),
    500: ("Something went wrong", "Something went wrong on our side. Try again in a moment."),
}
CSRF_FAILED = "The form had expired or came from another site. Reload the page and try again."


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def error_response(request: HttpRequest, status: int, detail: str | None = None) -> HttpResponse:
    title, message = ERRORS.get(status, ERRORS[400 if status < 500 else 500])
    detail = detail or message
    if is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    context = {"title": title, "detail": detail, "status": status}
    if status < 500:
        return HttpResponse(loader.get_template("error.html").render(context, request), status=status)
    # Without the request's context processors, which may be what failed (the session's database); and should
    # even this page fail (a static file missing from the manifest), plain words rather than the server's page.
    try:
        return HttpResponse(loader.get_template("500.html").render(context), status=status)
    except Exception:
        return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The exception's text (which model, which pattern) is for us, not for the client.
    return error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_response(request, 403, CSRF_FAILED)


class ErrorBodyMiddleware:
    """An error response with no body (405 from require_GET or require_POST) gets the page or the JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in ERRORS
            and request.method != "HEAD"
            and not response.streaming
            and not response.content
        ):
            filled = error_response(request, response.status_code)
            for header in ("Allow", "Retry-After"):
                if header in response:
                    filled[header] = response[header]
            return filled
        return response
