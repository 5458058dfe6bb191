"""The worker: a claim is one conditional UPDATE, progress reaches the job row, and a run ends every job
COMPLETED or FAILED with the plan (framed, lively, on the beat) stored on it."""

import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from jobs import tasks, worker
from jobs.models import Audio, Job
from jobs.scratch import Scratch
from media_pipeline import ffmpeg
from media_pipeline.errors import RenderFailed
from media_pipeline.probe import probe_visual
from tests.media_factory import make_montage, make_song, make_subject, make_waking_clip

S = Job.Status
needs_ffmpeg = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


# ---------------------------------------------------------------- claiming


def test_a_pending_job_is_claimed_once(make_job):
    job = make_job()
    first = worker.claim(job.id)
    second = worker.claim(job.id)
    assert first is not None and first.status == S.PROCESSING
    assert second is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.started_at is not None and job.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_a_job_produce_one_winner():
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database is not shared between threads")
    job = Job.objects.create(style="CLEAN_VLOG", status=S.PENDING)
    barrier = threading.Barrier(4)
    results = []

    def race():
        barrier.wait()
        results.append(worker.claim(job.id) is not None)
        connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert Job.objects.get(id=job.id).attempts == 1


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.UPLOADING])
def test_a_job_that_is_not_queued_cannot_be_claimed(make_job, status):
    job = make_job(status=status)
    assert worker.claim(job.id) is None
    job.refresh_from_db()
    assert job.status == status and job.attempts == 0


def test_a_job_whose_worker_is_alive_cannot_be_claimed_again(make_job):
    job = make_job(status=S.PROCESSING, heartbeat_age=5, attempts=1)
    assert worker.claim(job.id) is None
    assert Job.objects.get(id=job.id).attempts == 1


def test_a_job_whose_worker_died_is_claimed_again(make_job, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=1)
    claimed = worker.claim(job.id)
    assert claimed is not None and claimed.attempts == 2


def test_a_job_that_keeps_killing_its_worker_is_given_up(make_job, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=settings.RENDER_MAX_ATTEMPTS)
    assert worker.claim(job.id) is None
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "interrupted too many times" in job.error_message


def test_the_oldest_waiting_job_is_claimed_first_and_its_holder_recorded(make_job, settings):
    import os
    import socket

    make_job(status=S.UPLOADING)
    make_job(status=S.COMPLETED)
    oldest, newer = make_job(), make_job()
    dead = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=1)
    claimed = [worker.claim_next() for _ in range(4)]
    assert [job.id if job else None for job in claimed] == [oldest.id, newer.id, dead.id, None]
    assert (claimed[0].worker_host, claimed[0].worker_pid) == (socket.gethostname(), os.getpid())


@pytest.fixture
def leftovers(media_root):
    """Plant what a killed render leaves beside the job's output; returns the paths."""
    from tests.jobs.sleepy_engine import leftovers as leftover_paths

    def plant(job: Job) -> list[Path]:
        paths = leftover_paths(job)
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        paths[0].write_bytes(b"half")
        paths[1].write_bytes(b"frames")
        paths[2].mkdir()
        (paths[2] / "clip-1.mp4").write_bytes(b"proxy")
        return paths

    return plant


def test_after_the_last_attempt_fails_no_partial_file_or_scratch_is_left(make_job, settings, leftovers):
    used_up = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=2, attempt_limit=2)
    paths = leftovers(used_up)
    song = Path(settings.MEDIA_ROOT) / f"jobs/{used_up.id}/music.mp3"
    song.parent.mkdir(parents=True)
    song.write_bytes(b"song")
    waiting = make_job()
    assert worker.claim_next().id == waiting.id
    used_up.refresh_from_db()
    assert used_up.status == S.FAILED and "interrupted too many times" in used_up.error_message
    assert [path for path in paths if path.exists()] == []
    assert song.is_file()  # the creator's files stay


def test_a_resumed_job_starts_without_the_files_its_dead_attempt_left(make_job, settings, leftovers):
    dead = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=1)
    paths = leftovers(dead)
    assert worker.claim_next().attempts == 2
    assert [path for path in paths if path.exists()] == []


def test_a_failed_render_leaves_no_partial_file_or_scratch(make_job, monkeypatch, leftovers):
    job = make_job()

    def engine(job, report):
        leftovers(job)
        raise RenderFailed("ffmpeg stopped")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    assert worker.run(job.id).status == S.FAILED
    assert not Scratch.of(job.id).folder.exists()


# ---------------------------------------------------------------- stopping


@pytest.fixture
def stop(monkeypatch):
    from jobs.host import _Stop

    fresh = _Stop()
    monkeypatch.setattr("jobs.worker.STOP", fresh)
    monkeypatch.setattr("jobs.host.STOP", fresh)
    return fresh


def test_a_stopped_worker_hands_its_job_back_with_the_attempt_returned_once_its_grace_is_over(
    make_job, monkeypatch, stop, settings, leftovers
):
    settings.RENDER_STOP_GRACE_S = 0
    job = make_job()

    def engine(job, report):
        paths = leftovers(job)
        stop.request()  # SIGTERM
        report(50, "Rendering")
        raise AssertionError(f"rendered on after the grace; {paths}")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    back = worker.run_next()
    assert (back.status, back.attempts, back.current_step) == (S.PENDING, 0, "The render was interrupted; resuming")
    assert back.interrupted
    assert not Scratch.of(job.id).folder.exists()


def test_a_stopped_worker_lets_a_render_finish_within_its_grace(make_job, monkeypatch, stop, settings):
    settings.RENDER_STOP_GRACE_S = 60
    make_job()

    def engine(job, report):
        stop.request()
        report(99, "Rendering")
        return f"jobs/{job.id}/out.mp4", {}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    assert worker.run_next().status == S.COMPLETED


def test_a_render_whose_ffmpeg_the_stop_killed_too_is_handed_back_not_failed(make_job, monkeypatch, stop):
    job = make_job()

    def engine(job, report):
        stop.request()  # systemd sends SIGTERM to every process of the service, ffmpeg included
        raise RenderFailed("ffmpeg was killed")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    assert worker.run(job.id).status == S.PENDING


def test_a_stopping_worker_starts_no_new_render(make_job, stop):
    job = make_job()
    stop.request()
    assert worker.run_next() is None
    assert Job.objects.get(id=job.id).status == S.PENDING


def test_a_wake_up_that_arrives_while_stopping_ends_the_worker_process(make_job, stop):
    make_job()
    stop.request()
    with pytest.raises(SystemExit):
        tasks.render_next()


# ---------------------------------------------------------------- progress


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_written_to_the_job_row(make_job):
    job = worker.claim(make_job().id)
    report = worker.ProgressReporter(job)
    report(42.7, "Rendering")
    job.refresh_from_db()
    assert (job.progress, job.current_step) == (42, "Rendering")


def test_progress_is_written_at_most_about_once_a_second(make_job, django_assert_num_queries):
    job = worker.claim(make_job().id)
    clock = FakeClock()
    report = worker.ProgressReporter(job, clock=clock)
    report(10, "Rendering")
    with django_assert_num_queries(0):
        for percent in range(11, 40):
            clock.now += 0.02
            report(percent, "Rendering")
    clock.now += 1.0
    with django_assert_num_queries(1):
        report(41, "Rendering")
    assert Job.objects.get(id=job.id).progress == 41


def test_a_new_step_is_written_at_once(make_job):
    job = worker.claim(make_job().id)
    clock = FakeClock()
    report = worker.ProgressReporter(job, clock=clock)
    report(10, "Finding the beat")
    report(10, "Planning the cuts")
    assert Job.objects.get(id=job.id).current_step == "Planning the cuts"


def test_progress_never_goes_backwards_nor_claims_100_before_the_end(make_job):
    job = worker.claim(make_job().id)
    report = worker.ProgressReporter(job, interval=0)
    report(60, "Rendering")
    report(30, "Rendering")
    assert Job.objects.get(id=job.id).progress == 60
    report(100, "Writing the file")
    assert Job.objects.get(id=job.id).progress == 99


def test_a_reporter_whose_job_was_taken_away_asks_to_cancel(make_job):
    job = worker.claim(make_job().id)
    report = worker.ProgressReporter(job, interval=0)
    Job.objects.filter(id=job.id).update(status=Job.Status.FAILED)
    report(50, "Rendering")
    assert report.should_cancel()


# ---------------------------------------------------------------- running


def test_a_successful_render_completes_the_job_with_its_output_and_plan(make_job, monkeypatch):
    job = make_job()

    def engine(job, report):
        report(50, "Rendering")
        return f"jobs/{job.id}/out.mp4", {"segments": []}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    finished = worker.run(job.id)
    assert finished.status == S.COMPLETED
    assert finished.progress == 100
    assert finished.output_video.name == f"jobs/{job.id}/out.mp4"
    assert finished.plan == {"segments": []}
    assert finished.completed_at is not None


def test_a_media_error_fails_the_job_with_its_message(make_job, monkeypatch):
    job = make_job()

    def engine(job, report):
        raise RenderFailed("clip.mp4 ends early: the file looks truncated")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    finished = worker.run(job.id)
    assert finished.status == S.FAILED
    assert finished.error_message == "clip.mp4 ends early: the file looks truncated"


def test_a_crash_fails_the_job_in_plain_words_and_reaches_the_task_log(make_job, monkeypatch):
    job = make_job()

    def engine(job, report):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    with pytest.raises(ZeroDivisionError):
        worker.run(job.id)
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "went wrong on our side" in job.error_message
    assert "ZeroDivisionError" in job.error_message


def test_a_wake_up_with_nothing_waiting_does_nothing(make_job):
    job = make_job(status=S.COMPLETED)
    assert tasks.render_next() == "nothing waiting"
    assert tasks.render_job(str(job.id)) == "nothing waiting"  # a message queued by an older version
    assert Job.objects.get(id=job.id).status == S.COMPLETED


def test_a_wake_up_renders_the_oldest_job_and_wakes_another_worker_while_jobs_wait(make_job, monkeypatch, enqueued):
    first, second = make_job(), make_job()
    monkeypatch.setattr("jobs.worker.make_video", lambda job, report: (f"jobs/{job.id}/out.mp4", {}))
    assert tasks.render_next() == S.COMPLETED
    assert Job.objects.get(id=first.id).status == S.COMPLETED
    assert Job.objects.get(id=second.id).status == S.PENDING
    assert enqueued == [("jobs.tasks.render_next",)]


def test_a_render_stopped_with_ctrl_c_ends_failed_not_stuck_processing(make_job, monkeypatch):
    job = make_job()

    def engine(job, report):
        raise KeyboardInterrupt

    monkeypatch.setattr("jobs.worker.make_video", engine)
    with pytest.raises(KeyboardInterrupt):
        worker.run(job.id)
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert job.error_message.startswith("Rendering was stopped before it finished")


def test_a_render_whose_job_was_taken_away_is_asked_to_stop_and_does_not_complete_it(make_job, monkeypatch):
    job = make_job()
    Audio.objects.create(job=job, file=f"jobs/{job.id}/music.wav", original_name="song.wav", file_size=1)
    asked = []

    def render(plan, path, on_progress=None, *, should_cancel, **options):
        Job.objects.filter(id=job.id).update(status=S.FAILED)  # an operator's retry or the sweep took it
        on_progress(50, "Encoding")  # a new step is written at once, and the write finds the job gone
        asked.append(should_cancel())
        return SimpleNamespace(sync=SimpleNamespace(as_dict=dict))

    monkeypatch.setattr("jobs.worker.plan_job", lambda *args, **kwargs: "the plan")
    monkeypatch.setattr("jobs.worker.plan_to_dict", lambda plan: {"segments": []})
    monkeypatch.setattr("jobs.worker.render", render)
    finished = worker.run(job.id)
    assert asked == [True]
    assert finished.status == S.FAILED and finished.output_video.name == ""


# ---------------------------------------------------------------- the stored plan (the real pipeline; only the render is faked)


@pytest.fixture
def no_render(monkeypatch):
    from media_pipeline.sync import SyncReport

    def fake_render(plan, path, on_progress=None, **options):
        Path(path).write_bytes(b"an mp4")  # the plan is what these tests are about
        nothing_measured = SyncReport(fps=plan.fps, basis="beats", cuts=(), seen=0, on_beat=0, summary="")
        return SimpleNamespace(sync=nothing_measured)

    monkeypatch.setattr("jobs.worker.render", fake_render)


@needs_ffmpeg
def test_the_stored_plan_frames_each_fill_shot_on_its_subject(db, tmp_path, no_render):
    clip = make_subject(tmp_path / "right.mp4", at=(0.85, 0.5), seconds=6)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "ENERGETIC_DANCE",
                 "--duration", "5")
    job = Job.objects.get()
    assert job.status == Job.Status.COMPLETED
    segments = job.plan["segments"]
    assert segments and all(s["reframe"] == "fill" for s in segments)
    assert all(0.7 < s["focus_x"] <= 0.85 and s["focus_y"] == 0.5 for s in segments)
    assert job.plan["music_gain_db"] is not None


@needs_ffmpeg
def test_the_stored_plan_starts_a_clip_where_it_comes_alive(db, tmp_path, no_render):
    clip = make_waking_clip(tmp_path / "wakes.mp4", still_for=6.0, seconds=10.0)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CINEMATIC_DRAMA",
                 "--duration", "5")
    first = Job.objects.get().plan["segments"][0]
    assert first["source_in"] >= 5.5, "not the still first 10-20% of the clip"


@needs_ffmpeg
def test_no_stored_segment_shows_a_change_of_shot_inside_a_clip(db, tmp_path, no_render):
    cuts = (1.4, 2.3, 3.7, 5.2)  # each between two keyframes (one a second), as an editor's export has them
    clip = make_montage(tmp_path / "montage.mp4", cuts=cuts, seconds=7.0)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "ENERGETIC_DANCE",
                 "--duration", "5")
    for s in Job.objects.get().plan["segments"]:
        assert not [c for c in cuts if s["source_in"] + 0.04 < c < s["source_out"] - 0.04], s


@needs_ffmpeg
def test_render_low_memory_renders_with_x264s_sliced_threads_into_a_valid_video(db, tmp_path, monkeypatch, settings):
    from media_pipeline import render as render_module

    settings.RENDER_LOW_MEMORY = True
    commands: list[list[str]] = []
    real_run = render_module.ffmpeg.run

    def run(args, **options):
        commands.append(list(args))
        return real_run(args, **options)

    monkeypatch.setattr(render_module.ffmpeg, "run", run)
    clip = make_subject(tmp_path / "clip.mp4", at=(0.5, 0.5), seconds=6)
    song = make_song(tmp_path / "song.wav", seconds=8)
    out = tmp_path / "out.mp4"
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CLEAN_VLOG", "--duration", "5",
                 "--output", str(out))
    rendering = [c for c in commands if "-filter_complex" in c]
    assert len(rendering) == 1 and "sliced-threads=1" in rendering[0][rendering[0].index("-x264-params") + 1]
    facts = probe_visual(str(out))
    assert (facts.codec, facts.width, facts.height) == ("h264", 1080, 1920)
    assert facts.duration == pytest.approx(5.0, abs=0.05)


@needs_ffmpeg
def test_a_hung_render_fails_the_job_after_render_stall_s_with_a_message(db, tmp_path, monkeypatch, settings):
    from media_pipeline.errors import RenderStalled

    settings.RENDER_STALL_S = 7
    seen: dict = {}

    def hung_render(plan, path, on_progress=None, **options):
        seen.update(options)
        raise RenderStalled("ffmpeg made no progress for 7 s (stuck at 3.2 s of the video) and was stopped")

    monkeypatch.setattr("jobs.worker.render", hung_render)
    clip = make_subject(tmp_path / "clip.mp4", at=(0.5, 0.5), seconds=6)
    song = make_song(tmp_path / "song.wav", seconds=8)
    with pytest.raises(CommandError, match="no progress for 7 s"):
        call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CLEAN_VLOG", "--duration", "5",
                     "--output", str(tmp_path / "out.mp4"))
    assert seen["stall_timeout"] == 7
    assert seen["low_memory"] is None  # RENDER_LOW_MEMORY's default: auto, decided from the plan
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    assert "no progress for 7 s" in job.error_message
    assert not (tmp_path / "out.mp4").exists()


@needs_ffmpeg
def test_where_each_cut_came_out_is_stored_with_the_plan_served_by_the_api_and_said_on_the_page(
    db, tmp_path, monkeypatch, client
):
    from media_pipeline import render as render_module

    real_render = render_module.render

    def small_render(plan, path, on_progress=None, **options):
        # The real renderer and its sync check, on a small frame so the test stays quick.
        return real_render(replace(plan, width=180, height=320), path, on_progress, **options)

    monkeypatch.setattr("jobs.worker.render", small_render)
    clips = [make_subject(tmp_path / "a.mp4", at=(0.3, 0.5), seconds=6), make_waking_clip(tmp_path / "b.mp4")]
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clips[0]), "--video", str(clips[1]), "--music", str(song),
                 "--style", "ENERGETIC_DANCE", "--duration", "5")
    job = Job.objects.get()
    assert job.status == Job.Status.COMPLETED
    output = ffmpeg.ffprobe_json(str(job.output_video.path))
    assert output["streams"][0]["codec_name"] == "h264"
    sync = job.plan["sync"]
    cuts = len(job.plan["segments"]) - 1
    assert cuts >= 4 and len(sync["cuts"]) == cuts
    assert sync["basis"] == "beats" and sync["summary"] == f"{sync['on_beat']} of {cuts} cuts on the beat"
    assert all(abs(c["off_plan"]) <= c["tolerance"] for c in sync["cuts"] if c["measured"] is not None)
    assert client.get(f"/api/jobs/{job.id}/plan").json()["sync"] == sync
    page = client.get(f"/jobs/{job.id}").content.decode()
    assert f'<p class="meta sync" id="sync">{sync["summary"]}</p>' in page


# ---------------------------------------------------------------- memory


@pytest.mark.parametrize("fails", [False, True], ids=["completed", "failed"])
def test_freed_memory_goes_back_to_the_system_after_each_job_ended_either_way(make_job, monkeypatch, fails):
    trims = []
    monkeypatch.setattr("jobs.heap.trim", lambda: trims.append(True) or True)

    def engine(job, report):
        if fails:
            raise RenderFailed("ffmpeg stopped")
        return f"jobs/{job.id}/out.mp4", {}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    assert worker.run(make_job().id).status == (S.FAILED if fails else S.COMPLETED)
    assert trims == [True]
