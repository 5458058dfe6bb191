# Cutline: one image for the web server, the housekeeping cluster, the render workers and (with the compose
# file's "s3" profile) a SeaweedFS bucket. Its commands are the README's manual install ("Deploy"), in the same
# folders: the app in /srv/cutline/app, run by the unprivileged user cutline.
#
#   docker build -t cutline .
#   docker compose up -d          # docker-compose.yml: PostgreSQL, migrations, web, housekeeping, worker
#
# Debian 12 with Python 3.13 (Debian's own python3 is 3.11; Django 6 needs 3.12+) and Debian's ffmpeg 5.1,
# the version the tests run against.
FROM python:3.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/srv/cutline/static \
    PROMETHEUS_MULTIPROC_DIR=/srv/cutline/metrics

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /srv/cutline --shell /usr/sbin/nologin cutline

WORKDIR /srv/cutline/app
COPY --chown=cutline:cutline requirements.txt ./
USER cutline
RUN python3 -m venv .venv \
    && .venv/bin/pip install --no-cache-dir -r requirements.txt

COPY --chown=cutline:cutline . .
# The static files are collected into the image; the settings want a key even for that, never used after.
RUN SECRET_KEY=collectstatic-only .venv/bin/python manage.py collectstatic --noinput \
    && mkdir -p var /srv/cutline/s3 /srv/cutline/metrics

# var/ (uploads, renders, the numba cache) is a volume the services share; so is /srv/cutline/metrics.
VOLUME ["/srv/cutline/app/var"]
EXPOSE 8000
ENV PATH=/srv/cutline/app/.venv/bin:$PATH \
    BIND=0.0.0.0 \
    PORT=8000
CMD [".venv/bin/gunicorn", "editor_site.wsgi"]
