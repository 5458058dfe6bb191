from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from jobs import admin_login, rest, views

urlpatterns = [
    path("", views.editor, name="editor"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<uuid:job_id>", views.job_page, name="job"),
    path("jobs/<uuid:job_id>/status", views.job_status, name="job-status"),
    path("jobs/<uuid:job_id>/retry", views.job_retry, name="job-retry"),
    path("jobs/<uuid:job_id>/delete", views.job_delete, name="job-delete"),
    path("jobs/<uuid:job_id>/remix", views.job_remix, name="job-remix"),
    # The JSON API (jobs/rest.py), with /api/openapi.json and /api/docs. Ids are taken as text so a malformed one
    # gets the same JSON 404 as an unknown one; any other /api/ address is a JSON 404 too.
    path("api/", include(rest.rest_api.urls[0])),
    path("api/<path:rest>", rest.not_found),
    path("health", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
    # The admin at ADMIN_PATH, its sign-in limited per address (before admin.site.urls, so it is the one matched).
    path(f"{settings.ADMIN_PATH}login/", admin_login.limited(admin.site.login)),
    path(settings.ADMIN_PATH, admin.site.urls),
]

# JSON under /api/, a page elsewhere, never a traceback (jobs/error_pages.py).
handler400 = "jobs.error_pages.bad_request"
handler403 = "jobs.error_pages.permission_denied"
handler404 = "jobs.error_pages.page_not_found"
handler500 = "jobs.error_pages.server_error"
