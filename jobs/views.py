"""HTML pages and the health check."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from media_pipeline import ffmpeg


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and ffmpeg is installed; 503 with the reason otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not healthy"
        return JsonResponse({"status": "error", "detail": f"database unavailable: {type(exc).__name__}"}, status=503)
    if not ffmpeg.available():
        return JsonResponse({"status": "error", "detail": "ffmpeg or ffprobe is not installed"}, status=503)
    return JsonResponse({"status": "ok"})
