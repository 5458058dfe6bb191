import pytest

from jobs import services, tasks
from jobs.models import Job
from media_pipeline.errors import RenderFailed

S = Job.Status


def test_a_successful_render_completes_the_job_with_its_output_and_plan(make_job):
    job = make_job()

    def engine(job, report):
        report(50, "Rendering")
        return f"jobs/{job.id}/out.mp4", {"segments": []}

    finished = services.job_render(job.id, engine=engine)
    assert finished.status == S.COMPLETED
    assert finished.progress == 100
    assert finished.output_video.name == f"jobs/{job.id}/out.mp4"
    assert finished.plan == {"segments": []}
    assert finished.completed_at is not None


def test_a_media_error_fails_the_job_with_its_message(make_job):
    job = make_job()

    def engine(job, report):
        raise RenderFailed("clip.mp4 ends early: the file looks truncated")

    finished = services.job_render(job.id, engine=engine)
    assert finished.status == S.FAILED
    assert finished.error_message == "clip.mp4 ends early: the file looks truncated"


def test_a_crash_fails_the_job_in_plain_words_and_reaches_the_task_log(make_job):
    job = make_job()

    def engine(job, report):
        raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError):
        services.job_render(job.id, engine=engine)
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "went wrong on our side" in job.error_message
    assert "ZeroDivisionError" in job.error_message


def test_the_task_does_nothing_with_a_job_it_cannot_claim(make_job):
    job = make_job(status=S.COMPLETED)
    assert tasks.render_job(str(job.id)).startswith("not claimed")
    assert Job.objects.get(id=job.id).status == S.COMPLETED


def test_creating_a_job_enqueues_it_only_after_commit(make_job, enqueued, django_capture_on_commit_callbacks):
    job = make_job()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.job_enqueue(job.id)
    assert enqueued == []
    callbacks[0]()
    assert enqueued == [("jobs.tasks.render_job", str(job.id))]


def test_a_render_stopped_with_ctrl_c_ends_failed_not_stuck_processing(make_job):
    job = make_job()

    def engine(job, report):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.job_render(job.id, engine=engine)
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert job.error_message.startswith("Rendering was stopped before it finished")
