from jobs import services
from jobs.models import Job


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_written_to_the_job_row(make_job):
    job = services.job_claim(make_job().id)
    report = services.ProgressReporter(job)
    report(42.7, "Rendering")
    job.refresh_from_db()
    assert (job.progress, job.current_step) == (42, "Rendering")


def test_progress_is_written_at_most_about_once_a_second(make_job, django_assert_num_queries):
    job = services.job_claim(make_job().id)
    clock = FakeClock()
    report = services.ProgressReporter(job, clock=clock)
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
    job = services.job_claim(make_job().id)
    clock = FakeClock()
    report = services.ProgressReporter(job, clock=clock)
    report(10, "Finding the beat")
    report(10, "Planning the cuts")
    assert Job.objects.get(id=job.id).current_step == "Planning the cuts"


def test_progress_never_goes_backwards_nor_claims_100_before_the_end(make_job):
    job = services.job_claim(make_job().id)
    report = services.ProgressReporter(job, interval=0)
    report(60, "Rendering")
    report(30, "Rendering")
    assert Job.objects.get(id=job.id).progress == 60
    report(100, "Writing the file")
    assert Job.objects.get(id=job.id).progress == 99


def test_a_reporter_whose_job_was_taken_away_asks_to_cancel(make_job):
    job = services.job_claim(make_job().id)
    report = services.ProgressReporter(job, interval=0)
    Job.objects.filter(id=job.id).update(status=Job.Status.FAILED)
    report(50, "Rendering")
    assert report.should_cancel()
