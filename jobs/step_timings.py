"""How long each step of a job's render took: probe, analysis, plan, render, check.

The worker hands every progress report (percent, step text) to a StepClock; a change of step closes the
one before, logs how long it took and adds it to the job's timings (Job.step_timings, shown in the admin).
The step texts are the pipeline's own, so a renamed step is renamed here too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from media_pipeline import pipeline, render

from . import metrics
from .logs import job_fields

log = logging.getLogger(__name__)

STEPS = ("probe", "analysis", "plan", "render", "check")
# What each progress text the pipeline reports belongs to; other texts (e.g. "Done") end the step in progress.
STEP_OF = {
    pipeline.READING[1]: "probe",
    pipeline.LOOKING[1]: "analysis",
    pipeline.LISTENING[1]: "analysis",
    pipeline.PLANNING[1]: "plan",
    render.PREPARING: "render",  # proxies of big clips, made for the render
    render.RENDERING: "render",
    render.CHECKING: "check",
}


def in_step_order(timings: dict[str, float]) -> list[str]:
    """The steps of stored timings in the order they run (PostgreSQL's jsonb keeps no key order)."""
    return sorted(timings, key=lambda step: (STEPS.index(step) if step in STEPS else len(STEPS), step))


class StepClock:
    """Times the steps of one job from its progress reports; passes every report on to `then`."""

    def __init__(
        self,
        job_id: uuid.UUID | str,
        *,
        then: Callable[[float, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.job_id = job_id
        self.then = then
        self.clock = clock
        self.timings: dict[str, float] = {}
        self._step: str | None = None
        self._since = 0.0

    def __call__(self, percent: float, text: str) -> None:
        step = STEP_OF.get(text)
        if step != self._step:
            self._close()
            self._step, self._since = step, self.clock()
            if step is not None:
                log.info("job %s: %s started", self.job_id, step, extra=job_fields(self.job_id, step))
        if self.then is not None:
            self.then(percent, text)

    def finish(self) -> dict[str, float]:
        """End the step in progress; the seconds of each step seen, in the order of STEPS."""
        self._close()
        self._step = None
        return {step: self.timings[step] for step in STEPS if step in self.timings}

    def _close(self) -> None:
        if self._step is None:
            return
        took = self.clock() - self._since
        self.timings[self._step] = round(self.timings.get(self._step, 0.0) + took, 3)
        metrics.step_took(self._step, took)
        log.info(
            "job %s: %s took %.2f s", self.job_id, self._step, took, extra=job_fields(self.job_id, self._step, took)
        )
