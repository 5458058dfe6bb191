import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job
from tests.media_factory import make_clip, make_song

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    return {
        "clip": make_clip(tmp_path / "clip.mp4", seconds=2),
        "song": make_song(tmp_path / "song.wav", seconds=6),
        "text": _write(tmp_path / "notes.mp4", "not a video\n"),
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def fake_engine(job, report):
    report(50, "Rendering")
    out = Path(job.visuals.first().file.path).with_name("out.mp4")
    out.write_bytes(b"fake mp4")
    return f"jobs/{job.id}/out.mp4", {"segments": []}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--music", "{song}", "--style", "CLEAN_VLOG"], "give at least one --video"),
        (["--video", "{clip}", "--style", "CLEAN_VLOG"], "give the song with --music"),
        (["--video", "/nope/missing.mp4", "--music", "{song}", "--style", "CLEAN_VLOG"], "/nope/missing.mp4: no such file"),
        (["--video", "{clip}", "--music", "{song}", "--style", "POLKA"], "Unknown style 'POLKA'"),
        (["--video", "{clip}", "--music", "{song}", "--style", "CLEAN_VLOG", "--duration", "90"], "between 5 and 60"),
        (["--video", "{clip}", "--music", "{song}", "--style", "CLEAN_VLOG", "--aspect", "3:2"], "Aspect ratio must be"),
        (["--video", "{text}", "--music", "{song}", "--style", "CLEAN_VLOG"], "notes.mp4:"),
        (["--video", "{clip}", "--music", "{text}", "--style", "CLEAN_VLOG"], "notes.mp4:"),
        (["not-a-uuid"], "no job with id 'not-a-uuid'"),
        (["--video", "{clip}", "--music", "{song}", "--style", "CLEAN_VLOG", "--seed", "-1"], "Seed must be"),
    ],
)
def test_it_refuses_bad_input_with_one_readable_line_and_leaves_nothing(db, files, media_root, args, message):
    args = [a.format(**files) for a in args]
    with pytest.raises(CommandError) as excinfo:
        call_command("render_job", *args)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert Job.objects.count() == 0
    assert not any(p.is_file() for p in media_root.rglob("*"))


def test_a_bad_style_exits_non_zero_without_a_traceback(files):
    result = subprocess.run(
        [sys.executable, "manage.py", "render_job", "--video", str(files["clip"]), "--music", str(files["song"]),
         "--style", "POLKA"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "DEBUG": "1"},
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Unknown style 'POLKA'" in lines[0]


def test_it_makes_a_job_from_local_files_and_writes_the_output(db, files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("jobs.worker.make_video", fake_engine)
    target = tmp_path / "final.mp4"
    call_command("render_job", "--video", str(files["clip"]), "--music", str(files["song"]),
                 "--style", "clean_vlog", "--output", str(target))
    assert target.read_bytes() == b"fake mp4"
    assert capsys.readouterr().out.strip() == str(target)
    job = Job.objects.get()
    assert job.status == Job.Status.COMPLETED and job.style == "CLEAN_VLOG"
    assert files["clip"].exists(), "the operator's own files are copied, never moved"


def test_it_renders_an_existing_job_again(db, files, monkeypatch, capsys):
    monkeypatch.setattr("jobs.worker.make_video", fake_engine)
    call_command("render_job", "--video", str(files["clip"]), "--music", str(files["song"]), "--style", "CLEAN_VLOG")
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=Job.Status.FAILED)
    call_command("render_job", str(job.id))
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED and job.attempts == 2


def test_a_seed_makes_another_edit_of_a_new_or_an_existing_job(db, files, monkeypatch):
    monkeypatch.setattr("jobs.worker.make_video", fake_engine)
    call_command("render_job", "--video", str(files["clip"]), "--music", str(files["song"]), "--style", "CLEAN_VLOG",
                 "--seed", "7")
    job = Job.objects.get()
    assert job.seed == 7
    call_command("render_job", str(job.id), "--seed", "8")
    job.refresh_from_db()
    assert job.seed == 8 and job.status == Job.Status.COMPLETED


def test_a_failed_render_exits_non_zero_with_the_reason(db, files, monkeypatch):
    from media_pipeline.errors import RenderFailed

    def failing(job, report):
        raise RenderFailed("the song could not be decoded")

    monkeypatch.setattr("jobs.worker.make_video", failing)
    with pytest.raises(CommandError, match="failed: the song could not be decoded"):
        call_command("render_job", "--video", str(files["clip"]), "--music", str(files["song"]), "--style", "CLEAN_VLOG")


def test_ctrl_c_ends_with_one_line_and_a_failed_job(db, files, monkeypatch):
    def interrupted(job, report):
        raise KeyboardInterrupt

    monkeypatch.setattr("jobs.worker.make_video", interrupted)
    with pytest.raises(CommandError, match="interrupted: job .* is marked FAILED"):
        call_command("render_job", "--video", str(files["clip"]), "--music", str(files["song"]), "--style", "CLEAN_VLOG")
    assert Job.objects.get().status == Job.Status.FAILED


def test_an_unmigrated_database_is_one_readable_line_not_a_traceback(files, tmp_path):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
           "MEDIA_ROOT": str(tmp_path / "media")}
    result = subprocess.run(
        [sys.executable, "manage.py", "render_job", "--video", str(files["clip"]), "--music", str(files["song"]),
         "--style", "CLEAN_VLOG"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run `python manage.py migrate` first" in lines[0]
    assert not (tmp_path / "media").exists() or not any(p.is_file() for p in (tmp_path / "media").rglob("*"))
