"""This render worker process as the fleet sees it: its row and heartbeat, and how it stops.

django-q2 starts a qcluster's worker processes; when one starts on a render cluster (post_spawn) it
registers a Worker row (host, pid), beats it from a small thread every WORKER_BEAT_S, and takes SIGTERM
as "stop": an idle worker leaves at once, a rendering one lets its render run for RENDER_STOP_GRACE_S,
then hands the job back (jobs/worker.py) and leaves. The qcluster main process passes a stop it alone
receives on to its processes (pass_stop_on), so `kill MAIN_PID`, systemd and honcho all stop alike.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from .models import WORKER_BEAT_S, WORKER_FORGOTTEN_S, Worker

log = logging.getLogger(__name__)
HOST = socket.gethostname()
T = TypeVar("T")


class StopRendering(BaseException):
    """Raised into a render once its worker's stop grace is over. A BaseException, like KeyboardInterrupt,
    so no `except Exception` in the pipeline swallows it, and ffmpeg is killed on the way out."""


class _Stop:
    """A stop of this process (SIGTERM): when it began, and whether a running render's grace is over."""

    def __init__(self) -> None:
        self.requested_at: float | None = None

    def request(self) -> None:
        if self.requested_at is None:
            self.requested_at = time.monotonic()

    @property
    def requested(self) -> bool:
        return self.requested_at is not None

    def grace_over(self) -> bool:
        return self.requested_at is not None and time.monotonic() - self.requested_at >= settings.RENDER_STOP_GRACE_S


STOP = _Stop()
_busy = False


def retrying(write: Callable[[], T]) -> T:
    """Run one autocommit write; if the connection was lost under it (PostgreSQL restarted, the session
    terminated), reconnect and run it once more instead of failing the render over a heartbeat."""
    try:
        return write()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return write()


# ---------------------------------------------------------------- the fleet's rows


def set_state(state: str, job_id=None) -> None:
    """What this process is doing, on its Worker row (none outside a render cluster: nothing is written)."""
    retrying(
        lambda: Worker.objects.filter(host=HOST, pid=os.getpid()).update(
            state=state, job_id=job_id, last_seen=timezone.now()
        )
    )


def register() -> None:
    """Add this process to the fleet, and drop rows of this host's processes that are gone (recycled, killed)."""
    Worker.objects.update_or_create(
        host=HOST, pid=os.getpid(), defaults={"state": Worker.State.IDLE, "job": None, "last_seen": timezone.now()}
    )
    for row in Worker.objects.filter(host=HOST).exclude(pid=os.getpid()):
        if not Path(f"/proc/{row.pid}").exists():
            row.delete()


def forget_silent() -> int:
    """Remove rows of workers not heard from in WORKER_FORGOTTEN_S (their host went away). Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=WORKER_FORGOTTEN_S)
    return Worker.objects.filter(last_seen__lt=cutoff).delete()[0]


def _beat_forever() -> None:
    # Its own thread and so its own (persistent) connection: a render blocks the main thread for minutes.
    # Beats at once too, so the thread's connection is opened at start-up, not in the middle of idle hours.
    while True:
        close_old_connections()
        try:
            retrying(lambda: Worker.objects.filter(host=HOST, pid=os.getpid()).update(last_seen=timezone.now()))
        except DatabaseError:
            log.warning("worker heartbeat not written (database unavailable); trying again in %s s", WORKER_BEAT_S)
        time.sleep(WORKER_BEAT_S)


def _leave() -> None:
    try:
        retrying(lambda: Worker.objects.filter(host=HOST, pid=os.getpid()).delete())
    except DatabaseError:
        pass  # the row is shown as lost, then forgotten by the sweep


# ---------------------------------------------------------------- starting and stopping


def on_worker_spawn(sender, proc_name: str = "", **kwargs) -> None:
    """django-q2's post_spawn, in each new worker process: only render clusters' workers join the fleet."""
    from django_q.conf import Conf

    if Conf.CLUSTER_NAME != settings.RENDER_QUEUE or Conf.SYNC:
        return
    register()
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_beat_forever, name="worker-heartbeat", daemon=True).start()


def _on_sigterm(signum, frame) -> None:
    STOP.request()
    log.info("worker %s:%s stopping%s", HOST, os.getpid(), " after its render" if _busy else "")
    if not _busy:
        _leave()
        raise SystemExit(0)
    set_state(Worker.State.STOPPING)


@contextmanager
def busy() -> Iterator[None]:
    """Around a task: a stop that comes meanwhile lets it end (see STOP), and the process leaves after it."""
    global _busy
    _busy = True
    try:
        yield
    finally:
        _busy = False
        if STOP.requested:
            _leave()
            raise SystemExit(0)


def pass_stop_on() -> None:
    """In the qcluster main process: SIGTERM or SIGINT to it alone is sent on to its processes.

    Left to django-q2, the main process asks its sentinel to stop, which waits for the running render
    and then lets the worker start the next message it holds. Sent on, the sentinel, pusher and monitor
    end at once and each render worker stops as above. ffmpeg runs in a session of its own, so it is
    not sent the signal and a render can finish within its grace.
    """

    def handler(signum, frame) -> None:
        for pid in _descendants_in_my_group():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    log.info("qcluster %s: a stop (SIGTERM, SIGINT) is passed on to its processes", os.getpid())


def _descendants_in_my_group() -> list[int]:
    children: dict[int, list[int]] = {}
    group: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name (2nd field) is in parentheses and may hold spaces: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid, pgrp = int(entry.name), int(fields[1]), int(fields[2])
        children.setdefault(ppid, []).append(pid)
        group[pid] = pgrp
    mine, found, todo = os.getpgrp(), [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        if group.get(pid) == mine:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found
