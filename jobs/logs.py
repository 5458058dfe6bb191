"""Log lines: plain text by default, one JSON object a line with LOG_FORMAT=json (settings.LOGGING).

A line about a job carries `job_id`, `step` and `duration` (seconds, or null when the line closes no step)
as fields of the record: `log.info("...", extra=job_fields(job_id, "render", 12.5))`. JSON lines have them as
keys; plain lines end with them in brackets. Loaded by logging's configuration, before the apps: no models.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

JOB_FIELDS = ("job_id", "step", "duration")


def job_fields(job_id: uuid.UUID | str, step: str, duration: float | None = None) -> dict:
    """The `extra` of a log call about a job."""
    return {"job_id": str(job_id), "step": step, "duration": None if duration is None else round(duration, 3)}


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if getattr(record, "job_id", None) is None:
            return line
        duration = getattr(record, "duration", None)
        took = "" if duration is None else f" {duration:.2f}s"
        head, newline, rest = line.partition("\n")  # a traceback stays below the line
        return f"{head} [job={record.job_id} step={getattr(record, 'step', '')}{took}]{newline}{rest}"


class JsonFormatter(_JsonFormatter):
    """{"time", "level", "logger", "message", ...}: the record's `extra` fields (job_id, step, duration) and,
    for an exception, its traceback as "exc_info"."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """ISO 8601 in UTC, to the millisecond: lines from several hosts sort together."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class AccessJsonFormatter(JsonFormatter):
    """gunicorn's access lines as JSON: the request's facts as fields (gunicorn hands them over as the record's
    arguments), beside its usual combined-format message."""

    FIELDS = {"h": "remote", "m": "method", "U": "path", "q": "query", "s": "status", "B": "bytes",
              "f": "referer", "a": "user_agent"}

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        for atom, field in self.FIELDS.items():
            if atom in atoms and atoms[atom] not in ("-", None):
                log_data[field] = atoms[atom]
        if str(log_data.get("status", "")).isdigit():
            log_data["status"] = int(log_data["status"])
        if "D" in atoms:  # microseconds
            log_data["duration"] = round(int(atoms["D"]) / 1_000_000, 6)


def gunicorn_logconfig() -> dict:
    """gunicorn's own logging (its errors and access lines) as JSON lines, for gunicorn.conf.py's logconfig_dict
    when LOG_FORMAT=json; gunicorn merges it over its defaults. Plain needs nothing: gunicorn's own format."""
    return {
        "formatters": {
            "json": {"()": "jobs.logs.JsonFormatter"},
            "access_json": {"()": "jobs.logs.AccessJsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "access_console": {
                "class": "logging.StreamHandler", "formatter": "access_json", "stream": "ext://sys.stdout"
            },
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
        },
    }
