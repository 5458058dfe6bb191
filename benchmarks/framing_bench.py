"""Framing benchmark: how many faces in the source the 9:16 fill crops keep whole, and what finding them costs.

Run from the project root:

    .venv/bin/python benchmarks/framing_bench.py --people PHOTO [PHOTO ...]   # faces + the look step's cost
    .venv/bin/python benchmarks/framing_bench.py --cost-only MEDIA ...         # just the cost, on any files

Sources: the shared clips (../shared/media/video: no faces in them, so they count false alarms)
and talking heads made from real photographs of people (--people; the figures in
benchmarks/README.md used scikit-image 0.26's astronaut.png, a NASA portrait shipped inside that
wheel: `pip download scikit-image --no-deps` and unzip skimage/data/astronaut.png). Each photo
becomes small landscape clips, 640x360 and 320x180, 6 s, a keyframe a second: the face off
centre with a hand-held sway, at the frame's edge, and crossing the frame.

For each clip, a CLEAN_VLOG and an ENERGETIC_DANCE 9:16 plan of it alone (a steady 120 BPM grid, no
song analysis) are each framed twice from the same look: without people (saliency only, as before) and with them. In
every fill segment's footage, every 5th source frame goes through OpenCV's frontal face
detector at full size (the reference: REFERENCE_NEIGHBOURS, found in two frames running); a face is
kept when the crop window at that frame's time holds its whole box. Printed: kept / found,
before and after, per clip and overall. The cost: CPU seconds (this process and ffmpeg) of
look.look_at on each file with detection and without it (detection off decodes 64 px samples
as before), best of --runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline import ffmpeg, look  # noqa: E402
from media_pipeline.facts import AUDIO, BeatGrid, MediaInfo  # noqa: E402
from media_pipeline.framing import with_focus  # noqa: E402
from media_pipeline.geometry import crop_share  # noqa: E402
from media_pipeline.look import Look, look_at  # noqa: E402
from media_pipeline.plan import FILL, Plan  # noqa: E402
from media_pipeline.planner import plan_edit  # noqa: E402
from media_pipeline.probe import probe_visual  # noqa: E402
from media_pipeline.style import get_style  # noqa: E402

SHARED = ROOT.parent / "shared" / "media"
GT_EVERY = 5  # every 5th source frame is checked
# The reference detector's strictness: at 5 it found faces in bikes.mp4's street (12 frames) and on the
# astronaut's helmet; at 8 the helmet's are gone, bikes.mp4 keeps 4 (texture: they count against both
# framings alike), and her face is still found in every frame where it is whole.
REFERENCE_NEIGHBOURS = 8
SECONDS = 6.0


# ---------------------------------------------------------------- talking heads from photos


def talking_heads(photo: Path, folder: Path) -> list[Path]:
    """Landscape clips of a portrait photo: off centre and swaying, at the edge, crossing; two sizes each."""
    made = []
    # The photo scaled to the clip's height on a plain wall; x says where its left edge is (t: seconds).
    moves = {
        "sway": "W*0.30+W*0.015*sin(2*PI*t/3)",
        "edge": "W*0.02",
        "cross": f"-w*0.3+(W-w*0.4)*t/{SECONDS}",
    }
    for width, height in ((640, 360), (320, 180)):
        for name, x in moves.items():
            out = folder / f"{photo.stem}_{name}_{width}x{height}.mp4"
            graph = (
                f"color=c=0x6b6256:s={width}x{height}:r=30:d={SECONDS}[wall];"
                f"movie={photo}:loop=0,setpts=N/30/TB,scale=-2:{height},format=yuv420p[face];"
                f"[wall][face]overlay=x='{x}':y=0:shortest=1:eval=frame,noise=alls=4:allf=t"
            )
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-filter_complex", graph, "-t", str(SECONDS),
                 "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", str(out)],
                check=True, timeout=300,
            )
            made.append(out)
    return made


# ---------------------------------------------------------------- reference faces


def reference_faces(info: MediaInfo) -> list[tuple[float, tuple[float, float]]]:
    """(time, (left, right) as shares of the width) of faces found at full size in every GT_EVERY-th frame."""
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    out, err = ffmpeg.run_binary(
        [ffmpeg.FFMPEG, "-loglevel", "info", "-nostats", *ffmpeg.safe_input_args(), "-i", info.path, "-an",
         "-vf", f"select='not(mod(n,{GT_EVERY}))',scale={info.width}:{info.height},format=gray,showinfo",
         "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"],
        timeout=600,
    )
    times = [float(t) for t in look._PTS_TIME.findall(err)]
    size = info.width * info.height
    frames = [np.frombuffer(out[k * size:(k + 1) * size], np.uint8).reshape(info.height, info.width)
              for k in range(min(len(times), len(out) // size))]
    found: list[list[tuple[int, int, int, int]]] = []
    for frame in frames:
        boxes = cascade.detectMultiScale(frame, 1.1, REFERENCE_NEIGHBOURS, minSize=(max(12, info.height // 20),) * 2)
        found.append([tuple(int(v) for v in b) for b in np.asarray(boxes).reshape(-1, 4)])
    faces = []
    for k, boxes in enumerate(found):
        others = (found[k - 1] if k else []) + (found[k + 1] if k + 1 < len(found) else [])
        for x, y, w, h in boxes:
            if any(abs(x - ox) < w / 2 and abs(y - oy) < h / 2 for ox, oy, _, _ in others):
                faces.append((times[k], (x / info.width, (x + w) / info.width)))
    return faces


# ---------------------------------------------------------------- plans and the share kept


def grid(seconds: float) -> BeatGrid:
    beats = tuple(round(k * 0.5, 3) for k in range(int(seconds * 2)))
    return BeatGrid(duration=seconds, tempo=120.0, beats=beats, downbeats=beats[::4], envelope_rate=10.0,
                    envelope=tuple([0.5] * int(seconds * 10)))


STYLES = ("CLEAN_VLOG", "ENERGETIC_DANCE")  # the fill styles' slowest and fastest cutting


def plan_for(info: MediaInfo, looked: Look, style: str) -> Plan:
    song = MediaInfo(path="/dev/null", kind=AUDIO, duration=60.0, codec="aac")
    duration = max(5.0, min(10.0, info.duration))
    return plan_edit([info], song, grid(60.0), get_style(style), duration=duration,
                     liveliness=[look.liveliness(looked)])


def kept(plan: Plan, faces: list[tuple[float, tuple[float, float]]]) -> tuple[int, int]:
    """(faces the fill crops hold whole, faces found) over the fill segments' footage."""
    info = plan.visuals[0]
    axis, share = crop_share(info, plan.width, plan.height)
    held = total = 0
    for seg in plan.segments:
        if seg.reframe != FILL or axis != "x":
            continue
        end = seg.focus_x if seg.focus_x_to is None else seg.focus_x_to
        for t, (left, right) in faces:
            if not seg.source_in <= t <= seg.source_out:
                continue
            along = (t - seg.source_in) / max(seg.source_out - seg.source_in, 1e-6)
            centre = min(max(seg.focus_x + (end - seg.focus_x) * along, share / 2), 1 - share / 2)
            total += 1
            held += centre - share / 2 - 1e-3 <= left and right <= centre + share / 2 + 1e-3
    return held, total


def without_people(looked: Look) -> Look:
    return Look(tuple(dataclasses.replace(s, people=()) for s in looked.samples), looked.cuts)


# ---------------------------------------------------------------- cost


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def look_cost(info: MediaInfo, runs: int) -> tuple[float, float, float]:
    """(CPU s with detection, CPU s without, wall s with) of look_at, best of `runs` each."""
    def once(detecting: bool) -> tuple[float, float]:
        saved = look.DETECT_FACTOR, look.detect
        if not detecting:
            look.DETECT_FACTOR, look.detect = 1, lambda *a, **k: ()
        try:
            cpu, wall = cpu_seconds(), time.perf_counter()
            look_at(info)
            return cpu_seconds() - cpu, time.perf_counter() - wall
        finally:
            look.DETECT_FACTOR, look.detect = saved

    with_people = [once(True) for _ in range(runs)]
    without = [once(False) for _ in range(runs)]
    return min(c for c, _ in with_people), min(c for c, _ in without), min(w for _, w in with_people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", nargs="*", default=[], help="photos of people to make talking heads of")
    parser.add_argument("--cost-only", nargs="*", default=None, help="just time the look step on these files")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if args.cost_only is not None:
        for path in args.cost_only:
            info = probe_visual(path)
            with_cpu, without_cpu, wall = look_cost(info, args.runs)
            print(f"{Path(path).name:36s} look: {without_cpu:6.2f} s CPU without people, {with_cpu:6.2f} s with"
                  f" (+{with_cpu - without_cpu:5.2f} s), {wall:5.2f} s wall")
        return
    with tempfile.TemporaryDirectory() as tmp:
        clips = [p for p in sorted((SHARED / "video").glob("*.mp4"))]
        for photo in args.people:
            clips += talking_heads(Path(photo), Path(tmp))
        totals = {"before": [0, 0], "after": [0, 0]}
        for path in clips:
            info = probe_visual(str(path))
            looked = look_at(info)
            confirmed = sum(1 for s in looked.samples if s.people)
            faces = reference_faces(info)
            before, after = [0, 0], [0, 0]
            for style in STYLES:
                for tally, seen in ((before, without_people(looked)), (after, looked)):
                    held, total = kept(with_focus(plan_for(info, looked, style), [seen]), faces)
                    tally[0] += held
                    tally[1] += total
            for name, (held, total) in (("before", before), ("after", after)):
                totals[name][0] += held
                totals[name][1] += total
            print(f"{path.name:36s} {info.width}x{info.height}  samples with a detection {confirmed}/{len(looked.samples)}"
                  f"  faces kept whole: before {before[0]}/{before[1]}, after {after[0]}/{after[1]}")
        for name, (held, total) in totals.items():
            print(f"{name:6s}: {held}/{total} = {held / total if total else float('nan'):.2f} of the faces kept whole")


if __name__ == "__main__":
    main()
