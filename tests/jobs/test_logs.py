"""Log lines: with LOG_FORMAT=json every line is one JSON object, and a job's lines carry its job_id, step and
duration; plain lines say the same in brackets."""

import json
import logging
import logging.config
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import worker
from jobs.logs import AccessJsonFormatter, JsonFormatter, PlainFormatter, gunicorn_logconfig, job_fields
from jobs.models import Job


@pytest.fixture
def json_lines():
    """Every line the jobs loggers write during the test, formatted as LOG_FORMAT=json formats them."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect(level=logging.INFO)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("jobs")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_a_job_s_life_is_logged_as_json_lines_that_carry_its_id_step_and_duration(make_job, monkeypatch, json_lines):
    job = make_job()

    def engine(job, report):
        report(10, "Reading your files")
        report(25, "Looking at your clips")
        report(75, "Planning the cuts")
        report(80, "Rendering")
        report(98, "Checking the video")
        report(100, "Done")
        return f"jobs/{job.id}/out.mp4", {"segments": []}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    worker.run(job.id)
    records = [json.loads(line) for line in json_lines]
    mine = [r for r in records if r.get("job_id") == str(job.id)]
    assert mine, records
    assert all({"job_id", "step", "duration", "message", "level", "time", "logger"} <= set(r) for r in mine)
    took = {r["step"]: r["duration"] for r in mine if r["message"].endswith(" s")}
    assert set(took) == {"probe", "analysis", "plan", "render", "check"}
    assert all(isinstance(seconds, float) and seconds >= 0 for seconds in took.values())
    assert mine[0]["step"] == "claim" and mine[-1]["step"] == "done"


def test_a_failed_job_s_line_carries_its_id_and_the_traceback(make_job, monkeypatch, json_lines):
    job = make_job()

    def engine(job, report):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    with pytest.raises(ZeroDivisionError):
        worker.run(job.id)
    crashed = [json.loads(line) for line in json_lines if '"crashed"' in line]
    assert len(crashed) == 1
    assert crashed[0]["job_id"] == str(job.id) and crashed[0]["level"] == "ERROR"
    assert "ZeroDivisionError" in crashed[0]["exc_info"]
    assert Job.objects.get(id=job.id).status == Job.Status.FAILED


def test_a_line_about_no_job_is_plain_json_without_job_fields():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Not Found: /x" and line["level"] == "WARNING" and "job_id" not in line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert list(line)[:3] == ["time", "level", "logger"]


def test_plain_lines_end_with_the_job_fields_in_brackets():
    record = logging.LogRecord("jobs.worker", logging.INFO, __file__, 1, "job %s: render took", ("abc",), None)
    record.__dict__.update(job_fields("abc", "render", 12.3456))
    assert PlainFormatter().format(record).endswith("job abc: render took [job=abc step=render 12.35s]")


def test_log_format_json_configures_the_json_formatter(settings):
    from django.conf import settings as live

    assert live.LOGGING["formatters"]["json"]["()"] == "jobs.logs.JsonFormatter"
    assert live.LOGGING["handlers"]["console"]["formatter"] in ("plain", "json")


def test_gunicorn_s_access_lines_become_json_with_the_request_s_facts():
    atoms = {"h": "203.0.113.9", "m": "GET", "U": "/health", "q": "", "s": "200", "B": 16, "f": "-",
             "a": "curl/8", "D": 176203}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(m)s %(U)s %(s)s", (atoms,), None)
    line = json.loads(AccessJsonFormatter().format(record))
    assert line["message"] == "203.0.113.9 GET /health 200"
    assert (line["remote"], line["method"], line["path"], line["status"], line["duration"]) == (
        "203.0.113.9", "GET", "/health", 200, 0.176203
    )
    assert "referer" not in line


def test_gunicorn_s_log_config_is_one_logging_accepts_over_gunicorn_s_defaults():
    from gunicorn.glogging import CONFIG_DEFAULTS

    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        logging.config.dictConfig({**CONFIG_DEFAULTS, **gunicorn_logconfig()})
        access = logging.getLogger("gunicorn.access")
        assert isinstance(access.handlers[0].formatter, AccessJsonFormatter) and not access.propagate
        assert isinstance(logging.getLogger("gunicorn.error").handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_an_unknown_log_format_stops_the_start_with_its_name():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "editor_site.settings"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode != 0 and "LOG_FORMAT must be plain or json, not 'xml'" in result.stderr


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_gunicorn_conf_logs_json_only_under_log_format_json(monkeypatch, log_format):
    monkeypatch.setenv("LOG_FORMAT", log_format)
    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert conf.get("logconfig_dict") == (gunicorn_logconfig() if log_format == "json" else None)
