"""Render a job in the foreground: an existing one by id, or a new one made from local files."""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models.fields.files import FieldFile

from jobs import services, worker
from jobs.models import Job
from media_pipeline.limits import ASPECTS, DEFAULT_ASPECT, DEFAULT_DURATION, MAX_DURATION, MIN_DURATION

BAR_WIDTH = 30


def _require_database() -> None:
    """After a database error: one readable line, not a traceback, when the database is unreachable or not migrated."""
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CommandError(f"cannot reach the database: {reason}") from None
    if pending:
        raise CommandError("the database is not set up yet: run `python manage.py migrate` first (make run does)")


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # as qcluster's (jobs/management/commands/qcluster.py)
    help = (
        "Render a job now. `render_job JOB_ID` re-renders an existing job; "
        "`render_job --video a.mp4 --video b.jpg --music song.mp3 --style NAME --output out.mp4` "
        "makes a job from local files and renders it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", nargs="?", help="id of an existing job to render again")
        others = [ratio for ratio in ASPECTS if ratio != DEFAULT_ASPECT]
        parser.add_argument(
            "--video", action="append", default=[], metavar="PATH", help=f"a clip or photo (1-{settings.MAX_VISUALS})"
        )
        parser.add_argument("--music", metavar="PATH", help="the song")
        parser.add_argument("--style", help="a style name, e.g. ENERGETIC_DANCE")
        parser.add_argument(
            "--duration", type=float, default=DEFAULT_DURATION,
            help=f"seconds, {MIN_DURATION:g}-{MAX_DURATION:g} (default {DEFAULT_DURATION:g})",
        )
        parser.add_argument(
            "--aspect", default=DEFAULT_ASPECT,
            help=f"{DEFAULT_ASPECT} (default), {', '.join(others[:-1])} or {others[-1]}",
        )
        parser.add_argument(
            "--seed", type=int, metavar="N",
            help="another edit of the same files and settings (0, the default, is the planner's first choice)",
        )
        parser.add_argument("--output", metavar="PATH", help="where to write the MP4")

    def handle(self, *args, **options) -> None:
        try:
            self._render(options)
        except DatabaseError:
            _require_database()
            raise

    def _render(self, options: dict) -> None:
        if options["job_id"]:
            if options["video"] or options["music"]:
                raise CommandError("give either a JOB_ID or --video/--music files, not both")
            job = self._existing_job(options["job_id"], options["seed"])
        else:
            job = self._new_job(options)
        try:
            finished = worker.run(job.id, listener=ProgressBar(self.stderr_stream()))
        except KeyboardInterrupt:
            raise CommandError(f"interrupted: job {job.id} is marked FAILED; retry it to render again") from None
        finally:
            self.stderr_stream().write("\n")
        if finished is None:
            raise CommandError(f"job {job.id} was taken by another worker")
        if finished.status != Job.Status.COMPLETED:
            raise CommandError(f"job {job.id} failed: {finished.error_message}")
        if options["output"]:
            self.stdout.write(str(_copy_into_place(finished.output_video, Path(options["output"]))))
        else:
            self.stdout.write(_where(finished.output_video))

    def stderr_stream(self):
        return sys.stderr

    def _existing_job(self, job_id: str, seed: int | None) -> Job:
        try:
            job = Job.objects.get(id=uuid.UUID(job_id))
        except (ValueError, Job.DoesNotExist):
            raise CommandError(f"no job with id {job_id!r}") from None
        if seed is not None and seed != job.seed:
            if job.status == Job.Status.PROCESSING:
                raise CommandError(f"job {job.id} is rendering now: give it another seed once it has finished")
            try:
                job.seed = services.validate_seed(seed)
            except services.JobInputError as exc:
                raise CommandError(exc.message) from None
            job.save(update_fields=["seed"])
        if job.status != Job.Status.PENDING:
            ok, why = services.job_retry(job.id, enqueue=False)
            if not ok:
                raise CommandError(f"job {job.id} cannot be rendered now: {why}")
        return job

    def _new_job(self, options: dict) -> Job:
        if not options["video"]:
            raise CommandError("give at least one --video (a clip or a photo), or a JOB_ID")
        if not options["music"]:
            raise CommandError("give the song with --music")
        if not options["style"]:
            raise CommandError("give a --style")
        output = options["output"]
        if output and not Path(output).parent.resolve().is_dir():
            raise CommandError(f"cannot write {output}: its folder does not exist")
        visuals = [_source(path) for path in options["video"]]
        try:
            return services.job_create(
                visuals=visuals,
                music=_source(options["music"]),
                style=options["style"].upper(),
                duration=options["duration"],
                aspect_ratio=options["aspect"],
                seed=0 if options["seed"] is None else options["seed"],
                enqueue=False,
            )
        except services.JobInputError as exc:
            raise CommandError(exc.message) from None


def _source(path: str) -> services.SourceFile:
    file = Path(path).expanduser()
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    return services.SourceFile(name=file.name, path=file)


def _where(stored: FieldFile) -> str:
    """The output's path on disk; with a bucket, its name there."""
    try:
        return stored.path
    except NotImplementedError:
        return f"{stored.name} (in bucket {settings.S3_BUCKET})"


def _copy_into_place(stored: FieldFile, target: Path) -> Path:
    # Copy beside the target, then rename: a reader never sees half a file. Read through the storage, so
    # a render kept in a bucket is copied out of it the same way.
    target = target.expanduser().resolve()
    partial = target.with_name(f".{target.name}.partial")
    try:
        with stored.open("rb") as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {target}: {exc.strerror}") from None
    return target


class ProgressBar:
    """A one-line progress bar on a terminal; plain lines when not a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = (-1, "")

    def __call__(self, percent: float, step: str) -> None:
        percent = int(max(0, min(100, percent)))
        if (percent, step) == self.last or (not self.tty and step == self.last[1] and percent - self.last[0] < 10):
            return
        self.last = (percent, step)
        filled = BAR_WIDTH * percent // 100
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {step}"
        self.stream.write(f"\r{line:<80}" if self.tty else f"{line}\n")
        self.stream.flush()
