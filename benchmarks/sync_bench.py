"""Sync-check benchmark: what finding the cuts costs a 30 s 9:16 render, and what it finds.

Run from the project root, after render_bench.py has made its media and plans:

    .venv/bin/python benchmarks/sync_bench.py                          # ENERGETIC_DANCE, 2 runs
    .venv/bin/python benchmarks/sync_bench.py --style all --runs 1 --tap-only

Per style and run, on render_bench's reference edit (cached plan_<STYLE>.json):
- the render's ffmpeg command with the sync tap (graph.Tap: the frames around each cut,
  64x114 grey, written beside the video) and without it, alternately: wall and CPU
  seconds of each, so the tap's own cost shows in the CPU difference (--tap-only: with it only);
- measure_sync on the tapped frames: wall seconds in this Python process;
- the same frames decoded from the finished MP4 instead (sync.read_frames): wall and
  CPU seconds, what a check that reads the file back would cost, and how far the cuts
  found there are from those found in the tapped frames;
- what was found: cuts seen, and the report's summary.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render_bench import OUT, planned, reference_media  # noqa: E402

from media_pipeline import ffmpeg, graph, sync  # noqa: E402
from media_pipeline.style import STYLES  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of the child processes it ran)."""
    cpu, wall = _children_cpu(), time.monotonic()
    result = action()
    return result, time.monotonic() - wall, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="ENERGETIC_DANCE", help="a style name, or 'all'")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--tap-only", action="store_true", help="skip the render without the tap")
    args = parser.parse_args()
    visuals, song = reference_media()
    names = list(STYLES) if args.style == "all" else [args.style]
    with tempfile.TemporaryDirectory(prefix="sync-bench-", dir=OUT) as tmp:
        for name in names:
            plan, source = planned(name, visuals, song, hand=False)
            samples = sync.samples_for(plan)
            print(f"\n{name}: {len(plan.segments) - 1} cuts, {len(samples.frames)} frames sampled; plan: {source}")
            for k in range(args.runs):
                video, tapped = Path(tmp) / "bench.mp4", Path(tmp) / "bench.gray"
                tap = graph.Tap(samples.shrink(), str(tapped))  # as render.render taps it: every frame, small
                _, tap_wall, tap_cpu = timed(lambda: ffmpeg.run(
                    graph.build_command(plan, str(video), tap=tap), timeout=900))
                frames = sync.samples_from_every_frame(tapped.read_bytes(), samples, graph.output_frames(plan))
                report, measure_wall, _ = timed(lambda: sync.measure_sync(plan, samples, frames))
                decoded, decode_wall, decode_cpu = timed(lambda: sync.read_frames(str(video), samples))
                plain = "" if args.tap_only else "without {:5.1f} s / {:5.1f} CPU-s; ".format(
                    *timed(lambda: ffmpeg.run(graph.build_command(plan, str(video)), timeout=900))[1:])
                pairs = list(zip(report.cuts, sync.measure_sync(plan, samples, decoded).cuts))
                both = [abs(a.measured - b.measured) * plan.fps
                        for a, b in pairs if a.measured is not None and b.measured is not None]
                alone = sum((a.measured is None) != (b.measured is None) for a, b in pairs)
                print(f"  run {k + 1}: render with tap {tap_wall:5.1f} s / {tap_cpu:5.1f} CPU-s, {plain}"
                      f"measure_sync {measure_wall * 1000:4.0f} ms; "
                      f"decoding the MP4 instead {decode_wall:4.2f} s / {decode_cpu:4.2f} CPU-s "
                      f"(cuts found in both within {max(both, default=0):.2f} frames of each other, "
                      f"{alone} seen in only one)")
            print(f"  found: {report.seen} of {len(report.cuts)} seen; {report.summary}")
            off = [c for c in report.cuts if c.off_plan is not None]
            if off:
                worst = max(off, key=lambda c: abs(c.off_plan))
                print(f"  furthest from its plan: {worst.transition} at {worst.planned:.2f} s, "
                      f"{worst.off_plan * plan.fps:+.2f} frames")


if __name__ == "__main__":
    main()
