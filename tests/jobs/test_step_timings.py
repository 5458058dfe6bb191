"""Step timings: the worker's progress reports are timed per step (probe, analysis, plan, render, check) and
stored on the job, finished or failed."""

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY

from jobs import worker
from jobs.models import Job
from jobs.step_timings import StepClock, in_step_order
from media_pipeline import pipeline, render


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_each_step_is_timed_from_its_first_report_to_the_next_step():
    clock = FakeClock()
    seen = []
    steps = StepClock("job", then=lambda percent, text: seen.append(text), clock=clock)
    for text, at in (
        (pipeline.READING[1], 0), (pipeline.LOOKING[1], 1), (pipeline.LISTENING[1], 3), (pipeline.PLANNING[1], 6),
        (render.RENDERING, 7), (render.RENDERING, 20), (render.CHECKING, 27), (render.DONE, 29),
    ):
        clock.now = at
        steps(50, text)
    clock.now = 40
    assert steps.finish() == {"probe": 1, "analysis": 5, "plan": 1, "render": 20, "check": 2}
    assert len(seen) == 8  # every report still reaches the next listener


def test_each_step_s_seconds_go_to_the_metrics_step_histogram():
    def sample(name):
        return REGISTRY.get_sample_value(name, {"step": "probe"}) or 0.0

    count, total = sample("cutline_step_seconds_count"), sample("cutline_step_seconds_sum")
    clock = FakeClock()
    steps = StepClock("job", clock=clock)
    steps(0, pipeline.READING[1])
    clock.now = 2.5
    steps.finish()
    assert sample("cutline_step_seconds_count") - count == 1
    assert sample("cutline_step_seconds_sum") - total == 2.5


def test_a_step_the_clock_does_not_know_ends_the_one_in_progress():
    clock = FakeClock()
    steps = StepClock("job", clock=clock)
    steps(0, pipeline.READING[1])
    clock.now = 2
    steps(5, "Fetching your files")
    clock.now = 10
    assert steps.finish() == {"probe": 2}


def test_the_proxies_count_as_render_time():
    clock = FakeClock()
    steps = StepClock("job", clock=clock)
    steps(0, render.PREPARING)
    clock.now = 4
    steps(0, render.RENDERING)
    clock.now = 10
    assert steps.finish() == {"render": 10}


def test_a_render_reports_its_check_even_at_the_percent_the_render_reached():
    reports = []
    progress = render._Progress(lambda percent, step: reports.append((percent, step)), duration=1.0)
    progress.report(0.0, render.RENDERING)
    progress.rendered(5.0)  # past the end: the render's share of the bar, no more
    progress.report(render._RENDER_SHARE, render.CHECKING)
    assert reports[-1][1] == render.CHECKING
    assert [p for p, _ in reports] == sorted(p for p, _ in reports)


@pytest.mark.parametrize("fails", [False, True])
def test_a_job_stores_its_step_timings_finished_or_failed(make_job, monkeypatch, fails):
    job = make_job()

    def engine(job, report):
        report(10, pipeline.READING[1])
        report(25, pipeline.LOOKING[1])
        report(75, pipeline.PLANNING[1])
        report(80, render.RENDERING)
        if fails:
            raise ZeroDivisionError("boom")
        report(98, render.CHECKING)
        return f"jobs/{job.id}/out.mp4", {"segments": []}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    try:
        worker.run(job.id)
    except ZeroDivisionError:
        pass
    job.refresh_from_db()
    expected = ["probe", "analysis", "plan", "render"] + ([] if fails else ["check"])
    assert in_step_order(job.step_timings) == expected
    assert all(seconds >= 0 for seconds in job.step_timings.values())
    assert job.status == (Job.Status.FAILED if fails else Job.Status.COMPLETED)


def test_the_admin_shows_a_job_s_step_timings(admin_client, make_job):
    job = make_job(status=Job.Status.COMPLETED, step_timings={"render": 24.5, "check": 0.4, "probe": 1.25})
    page = admin_client.get(reverse("admin:jobs_job_change", args=[job.id])).content.decode()
    assert "Step timings" in page
    assert ("<tr><th>probe</th><td>1.25 s</td></tr><tr><th>render</th><td>24.50 s</td></tr>"
            "<tr><th>check</th><td>0.40 s</td></tr>") in page
