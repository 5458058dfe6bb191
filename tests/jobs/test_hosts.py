"""Many render hosts, one fair queue: real `qcluster` processes stand in for hosts on one PostgreSQL.

Each host is `manage.py qcluster` in a session of its own, whose renders sleep for the job's duration
(tests/jobs/sleepy_engine.py); a housekeeping cluster sweeps every second. The hosts share the module's
committed data, so these tests use no pytest-django transaction and clear the queue themselves.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from jobs import services
from jobs.models import Job, Worker

pytestmark = [
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="hosts share the database through PostgreSQL (SKIP LOCKED, sessions); SQLite's test database is in memory",
    ),
    # Committed data the hosts can see; the tables are emptied after each test.
    pytest.mark.django_db(transaction=True),
]
SWEEP_SCHEDULE = dict(
    name="cutline: sweep stalled jobs and abandoned uploads",
    defaults={"func": "jobs.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1, "cluster": "housekeeping"},
)

ROOT = Path(__file__).resolve().parents[2]
S = Job.Status
LEASE_S = 6
GRACE_S = 1
SWEEP_EVERY_S = 1


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _pgrp_members(pgrp: int) -> set[int]:
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgrp and fields[0] != "Z":
                members.add(int(entry.name))
    return members


class Host:
    """One qcluster process tree, in its own session (so its process group is its own)."""

    def __init__(self, name: str, env: dict[str, str], logs: Path):
        self.name = name
        self.log = logs / f"{name}.log"
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()

    def pids(self) -> set[int]:
        return _pgrp_members(self.proc.pid)

    def ready(self) -> "Host":
        wait_until(lambda: Worker.objects.filter(pid__in=self.pids()).exists(), 20, f"{self.name} joins the fleet")
        wait_until(lambda: "is passed on to its processes" in self.output(), 10, f"{self.name} handles a stop")
        return self

    def output(self) -> str:
        return self.log.read_text()

    def gone(self) -> bool:
        self.proc.poll()
        return not self.pids()

    def stop(self, how: int = signal.SIGTERM, group: bool = True) -> None:
        try:
            os.killpg(self.proc.pid, how) if group else os.kill(self.proc.pid, how)
        except ProcessLookupError:
            pass

    def end(self) -> None:
        if not self.gone():
            self.stop()
            try:
                wait_until(self.gone, 8, f"{self.name} stops")
            except AssertionError:
                self.stop(signal.SIGKILL)
        self.proc.wait(timeout=10)


class Fleet:
    def __init__(self, tmp: Path):
        self.media = tmp / "media"
        self.logs = tmp / "logs"
        self.media.mkdir()
        self.logs.mkdir()
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        self.env = {
            **os.environ, "DATABASE_URL": url, "MEDIA_ROOT": str(self.media), "RENDER_LEASE_S": str(LEASE_S),
            "RENDER_STOP_GRACE_S": str(GRACE_S), "SWEEP_EVERY_S": str(SWEEP_EVERY_S), "Q_WORKERS": "1",
            "CUTLINE_TEST_ENGINE": "tests.jobs.sleepy_engine.make_video", "LOG_LEVEL": "INFO",
        }
        self.env.pop("Q_CLUSTER_NAME", None)
        self.hosts: list[Host] = []
        self.count = 0

    def start(self, **env: str) -> Host:
        self.count += 1
        name = "housekeeping" if env.get("Q_CLUSTER_NAME") else f"host{self.count}"
        host = Host(name, {**self.env, **env}, self.logs)
        self.hosts.append(host)
        return host

    def render_host(self) -> Host:
        return self.start().ready()

    def claims(self, host: Host) -> list[str]:
        return [line.split("claimed job ")[1].split()[0] for line in host.output().splitlines() if "claimed job" in line]

    def end(self) -> None:
        for host in self.hosts:
            host.end()


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Fleet]:
    with django_db_blocker.unblock():
        fleet = Fleet(tmp_path_factory.mktemp("fleet"))
        # As migrations 0002 and 0005 leave it (transactional tests empty the tables after them).
        Schedule.objects.update_or_create(**SWEEP_SCHEDULE)
        fleet.housekeeping = fleet.start(Q_CLUSTER_NAME="housekeeping")
        # Its monitor first connects when it saves a result: a task of no length gives it one before the
        # first sweep run (a minute long) ends.
        async_task("math.floor", 1.5, cluster="housekeeping")
        # Its scheduler first looks at schedules 30 s after it starts: the first run is started here.
        async_task("jobs.tasks.sweep", cluster="housekeeping")
        fleet.a = fleet.render_host()
        try:
            yield fleet
        finally:
            fleet.end()
            for model in (Job, OrmQ, Task, Worker):
                model.objects.all().delete()
            connection.close()


@pytest.fixture
def queue(fleet, transactional_db, settings) -> Fleet:
    """The fleet with an empty queue; two live render hosts as fleet.a and fleet.b unless a test stops one."""
    settings.RENDER_LEASE_S = LEASE_S
    settings.MEDIA_ROOT = fleet.media
    for name in ("a", "b"):
        host = getattr(fleet, name, None)
        if host is None or host.gone():
            setattr(fleet, name, fleet.render_host())
    Schedule.objects.update_or_create(**SWEEP_SCHEDULE)
    return fleet


def make_jobs(*durations: float, wake: bool = True) -> list[Job]:
    jobs = [Job.objects.create(style="CLEAN_VLOG", status=S.PENDING, duration=seconds) for seconds in durations]
    if wake:
        for job in jobs:
            services.job_enqueue(job.id)  # committed already: the wake-up goes at once
    return jobs


def done(*jobs: Job) -> bool:
    return Job.objects.filter(id__in=[job.id for job in jobs], status__in=Job.ENDED).count() == len(jobs)


def fresh(job: Job) -> Job:
    return Job.objects.get(id=job.id)


# ---------------------------------------------------------------- fairness and order


def test_short_jobs_queued_behind_a_long_one_finish_first_on_a_host_that_joins_later(queue):
    queue.b.end()  # only host a is up when the jobs come in
    t0 = time.monotonic()
    long, *short = make_jobs(16, 2, 2, 2, 2)
    time.sleep(max(0.0, t0 + 2 - time.monotonic()))
    queue.b = queue.start()
    wait_until(lambda: done(long, *short), 30, "all five jobs end")
    print(f"all five done at +{time.monotonic() - t0:.1f} s")
    long, *short = [fresh(job) for job in (long, *short)]
    assert {job.status for job in (long, *short)} == {S.COMPLETED}
    assert max(job.completed_at for job in short) < long.completed_at
    assert [job.started_at for job in short] == sorted(job.started_at for job in short)
    assert all(job.attempts == 1 for job in (long, *short))


def test_two_hundred_jobs_over_two_hosts_are_each_claimed_exactly_once(queue):
    t0 = time.monotonic()
    jobs = make_jobs(*[0] * 200)
    wait_until(lambda: done(*jobs), 60, "200 jobs end")
    print(f"200 jobs in {time.monotonic() - t0:.1f} s")
    assert Job.objects.filter(status=S.COMPLETED, attempts=1).count() == 200
    claims = queue.claims(queue.a) + queue.claims(queue.b)
    ids = {str(job.id) for job in jobs}
    assert sorted(c for c in claims if c in ids) == sorted(ids)
    assert queue.claims(queue.a) and queue.claims(queue.b), "both hosts took a share"


def test_a_queued_job_whose_wake_up_was_lost_runs_within_one_sweep_period(queue):
    job, = make_jobs(0, wake=False)  # as when the message could not be read, or the web process died
    wait_until(lambda: done(job), services.WAKE_AFTER_S + 2 * SWEEP_EVERY_S + 3, "the job runs")
    assert fresh(job).status == S.COMPLETED


# ---------------------------------------------------------------- connections


def _sessions() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def test_idle_hosts_open_no_new_database_sessions_and_survive_their_sessions_being_dropped(queue):
    # Every process has made its first connection: the housekeeping cluster's scheduler first connects 30 s
    # after it starts (it logs the sweep's run it creates), its monitor when it saves its first result. On a
    # busy machine both come later than a fixed wait would allow.
    housekeeping = queue.housekeeping
    wait_until(lambda: "from schedule" in housekeeping.output() and "Processed '" in housekeeping.output(), 90,
               "the housekeeping cluster's scheduler and monitor connect")
    time.sleep(1.0)
    before = _sessions()
    time.sleep(20)
    after = _sessions()
    print(f"sessions while idle: {len(before)} ({len(after - before)} new)")
    assert after - before == set()

    job, = make_jobs(2)
    wait_until(lambda: fresh(job).progress > 10, 10, "the render is under way")
    with connection.cursor() as cursor:  # every session of the hosts, mid-render
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    wait_until(lambda: done(job), 10, "the job ends")
    assert fresh(job).status == S.COMPLETED
    second, = make_jobs(0)
    wait_until(lambda: done(second), 10, "a job after the drop ends")
    for host in (queue.a, queue.b, queue.housekeeping):
        assert "connection already closed" not in host.output(), host.name


# ---------------------------------------------------------------- a host killed


def test_a_killed_hosts_jobs_start_elsewhere_within_a_sweep_and_its_render_after_the_lease(queue):
    queue.b.stop(signal.SIGSTOP)  # host b takes no wake-up until host a holds them all
    try:
        running, *queued = make_jobs(6, 0.5, 0.5)
        wait_until(lambda: fresh(running).status == S.PROCESSING, 10, "host a renders")
        wait_until(lambda: OrmQ.objects.filter(key=django_settings.RENDER_QUEUE, lock__gt=timezone.now()).count() == 3,
                   5, "host a holds the three wake-ups")
        killed = time.monotonic()
        queue.a.stop(signal.SIGKILL)
        wait_until(queue.a.gone, 5, "host a is gone")
        Job.objects.filter(id=running.id).update(duration=0.5)  # its second attempt need not be long
    finally:
        queue.b.stop(signal.SIGCONT)
    wait_until(lambda: all(fresh(job).status != S.PENDING for job in queued),
               services.WAKE_AFTER_S + SWEEP_EVERY_S + 3, "the queued jobs start on host b")
    print(f"queued jobs started {time.monotonic() - killed:.1f} s after the kill")
    wait_until(lambda: done(running, *queued), LEASE_S + 10, "all end")
    print(f"all done {time.monotonic() - killed:.1f} s after the kill")
    running, *queued = [fresh(job) for job in (running, *queued)]
    assert {job.status for job in (running, *queued)} == {S.COMPLETED}
    assert [running.attempts, *[job.attempts for job in queued]] == [2, 1, 1]
    assert all(job.worker_pid in queue.b.pids() for job in (running, *queued))
    assert [p.name for p in (queue.media / f"jobs/{running.id}").iterdir()] == [f"cutline-{running.id.hex[:8]}.mp4"]


# ---------------------------------------------------------------- a host stopped


@pytest.mark.parametrize("group", [False, True], ids=["to the main process", "to the process group"])
def test_a_host_stopped_mid_render_hands_its_job_back_and_starts_nothing_new(queue, group):
    queue.b.stop(signal.SIGSTOP)  # only host a takes wake-ups until it is stopped
    try:
        running, held = make_jobs(30, 30)
        wait_until(lambda: fresh(running).status == S.PROCESSING, 10, "host a renders")
        time.sleep(0.5)
        stopped = time.monotonic()
        queue.a.stop(signal.SIGTERM, group=group)
        wait_until(queue.a.gone, GRACE_S + 4, "host a exits within its grace")
        print(f"host stopped in {time.monotonic() - stopped:.1f} s")
        running, held = fresh(running), fresh(held)
        assert (running.status, running.attempts, running.current_step) == (
            S.PENDING, 0, "The render was interrupted; resuming"
        )
        assert (held.status, held.attempts) == (S.PENDING, 0)
        assert queue.claims(queue.a)[-1] == str(running.id) and str(held.id) not in queue.claims(queue.a)
        Job.objects.update(duration=0.5)
    finally:
        queue.b.stop(signal.SIGCONT)
    wait_until(lambda: done(running, held), 15, "another host renders both")
    assert {fresh(running).status, fresh(held).status} == {S.COMPLETED}
