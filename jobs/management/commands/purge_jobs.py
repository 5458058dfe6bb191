"""Delete finished and failed jobs past retention, with their files (files first, then rows), and say
what was freed. The housekeeping sweep does the same with JOB_RETENTION_DAYS on its own."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from jobs import services

UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
AGE = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def parse_age(text: str) -> timedelta:
    """"7d", "12h", "30m", "90s" or "2w" as a timedelta; CommandError for anything else."""
    match = AGE.fullmatch(text.strip().lower())
    if match is None:
        raise CommandError(f"--older-than must be a number and a unit (w, d, h, m or s), e.g. 7d or 12h, not {text!r}")
    return timedelta(**{UNITS[match[2]]: float(match[1])})


class Command(BaseCommand):
    help = (
        "Delete finished and failed jobs that ended longer ago than --older-than (default JOB_RETENTION_DAYS), "
        "with their files; never a queued or rendering job. A file another job still uses is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", metavar="AGE", help="e.g. 7d, 12h, 30m (default: JOB_RETENTION_DAYS days)")
        parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")

    def handle(self, *args, older_than: str | None, dry_run: bool, **options) -> None:
        if older_than is None:
            if settings.JOB_RETENTION_DAYS <= 0:
                self.stdout.write("JOB_RETENTION_DAYS is 0, so jobs are kept forever: nothing deleted "
                                  "(pass --older-than to delete anyway).")
                return
            older_than = f"{settings.JOB_RETENTION_DAYS}d"
        age = parse_age(older_than)
        try:
            freed = services.job_purge(age, dry_run=dry_run)
        except DatabaseError as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CommandError(f"the database cannot be read ({reason}): is it up and migrated?") from None
        jobs = f"{freed.jobs} job{'s' if freed.jobs != 1 else ''} that ended more than {older_than} ago"
        if dry_run:
            self.stdout.write(f"Dry run: would delete {jobs} and free {freed.megabytes:.1f} MB; nothing deleted.")
        else:
            self.stdout.write(f"Deleted {jobs}; freed {freed.megabytes:.1f} MB.")
