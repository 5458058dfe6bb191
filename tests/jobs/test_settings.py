import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_refuses_a_stall_limit_that_would_stop_every_render():
    result = manage("check", RENDER_STALL_S="0")
    assert result.returncode != 0
    assert "RENDER_STALL_S must be at least 1 second, not 0" in result.stderr


def test_it_refuses_a_low_memory_setting_other_than_auto_on_or_off():
    result = manage("check", RENDER_LOW_MEMORY="sometimes")
    assert result.returncode != 0
    assert "RENDER_LOW_MEMORY must be auto, 1 or 0, not 'sometimes'" in result.stderr


def test_low_memory_is_auto_unless_set():
    assert production_settings("RENDER_LOW_MEMORY") == "None"
    assert production_settings("RENDER_LOW_MEMORY", RENDER_LOW_MEMORY="1") == "True"
    assert production_settings("RENDER_LOW_MEMORY", RENDER_LOW_MEMORY="off") == "False"


def test_it_refuses_more_visuals_per_job_than_the_planner_can_cut():
    result = manage("check", MAX_VISUALS="6")
    assert result.returncode != 0
    assert "MAX_VISUALS must be from 1 to 5 (what the planner can cut), not 6" in result.stderr


def test_the_deploy_check_is_clean_with_production_settings(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="0", SECRET_KEY="x" * 60 + "-production-secret-key-for-the-test",
        ALLOWED_HOSTS="cutline.example.com", CSRF_TRUSTED_ORIGINS="https://cutline.example.com",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_a_sweep_period_outside_one_to_sixty_seconds():
    result = manage("check", SWEEP_EVERY_S="0")
    assert result.returncode != 0
    assert "SWEEP_EVERY_S must be from 1 to 60 seconds, not 0" in result.stderr


def test_debug_is_off_unless_set(tmp_path):
    # The project's own settings, as a server runs them (the tests' settings turn DEBUG on).
    result = manage("check", DJANGO_SETTINGS_MODULE="editor_site.settings")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def production_settings(*names: str, **env: str) -> str:
    """The named settings as the project's own settings file makes them for a server, printed on one line."""
    code = f"from django.conf import settings as s; print({', '.join('s.' + name for name in names)})"
    result = manage("shell", "-c", code, DJANGO_SETTINGS_MODULE="editor_site.settings",
                    SECRET_KEY="x" * 60 + "-production-secret-key-for-the-test", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the shell's own note on what it imported


def hsts(**env: str) -> str:
    return production_settings("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", **env)


def test_hsts_has_no_preload_or_subdomains_unless_asked_for():
    assert hsts() == "31536000 False False"
    assert hsts(SECURE_HSTS_PRELOAD="1", SECURE_HSTS_INCLUDE_SUBDOMAINS="1") == "31536000 True True"


def test_it_refuses_a_negative_retention():
    result = manage("check", JOB_RETENTION_DAYS="-1")
    assert result.returncode != 0
    assert "JOB_RETENTION_DAYS must be 0 (keep forever) or more, not -1" in result.stderr


def test_it_refuses_an_admin_path_that_would_take_the_editors_place():
    result = manage("check", ADMIN_PATH="/")
    assert result.returncode != 0
    assert "ADMIN_PATH must not be empty: the editor answers at /" in result.stderr
