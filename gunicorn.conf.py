"""gunicorn's settings for Cutline's web process, read from the working directory by `gunicorn editor_site.wsgi`
(the Procfile, the Dockerfile and the systemd unit all start it so).

Threads, not processes, carry the connections: a client that trickles its request a few bytes a second holds
one thread (gunicorn reads a request's head and Django reads its body in a blocking thread), so there must be
many more threads than such clients; idle threads cost a little memory, no CPU and no database connection.
Measured (Dec 3 2026, 2 cores, 20 connections trickling 3 bytes a second, half request heads, half upload
bodies, as in tests/jobs/test_gunicorn_conf.py): the former 2 workers x 4 threads left /health unanswered
after 15 s; 2 x 32 answered /health in 0.06 s and the editor page in 0.05 s (40 trickling: 0.10 s and
0.01 s). In production nginx buffers whole requests in front (deploy/nginx), so trickling clients cost nginx
connections and gunicorn's threads only ever see whole requests.
"""

import os

bind = f"{os.getenv('BIND', '0.0.0.0')}:{os.getenv('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.getenv("WEB_WORKERS", "2"))
threads = int(os.getenv("WEB_THREADS", "32"))
# A worker whose main loop is stuck this long is restarted (gthread's loop runs beside its threads, so a slow
# request alone never trips it).
timeout = 60
graceful_timeout = 30
# A kept-alive connection waits this long for its next request, then closes: idle sockets hold no thread.
keepalive = 2
# Request heads: a long line or many or large headers are refused before Django sees them.
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190
accesslog = "-"
# LOG_FORMAT=json: gunicorn's own lines (its errors, each request) are JSON too, like the app's (jobs/logs.py).
if os.getenv("LOG_FORMAT", "plain").strip().lower() == "json":
    from jobs.logs import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig()
