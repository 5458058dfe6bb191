"""Render benchmark: a reference 30 s 9:16 edit against a bare x264 encode of the same size.

Run from the project root:

    .venv/bin/python benchmarks/render_bench.py                 # CINEMATIC_DRAMA, 2 runs
    .venv/bin/python benchmarks/render_bench.py --style all     # every preset
    .venv/bin/python benchmarks/render_bench.py --runs 3 --keep # keep the MP4s in benchmarks/out/

The reference media (four 20 s 1080p clips: two landscape, one portrait, one
landscape with a 90-degree rotation flag as phones write it; a 4000x3000 photo; a
3-minute drum song) is generated once into benchmarks/out/media and reused. The
plan comes from probe + beat analysis + planner.plan_edit when those modules are
there (cached as JSON per style), else from a hand-built 12-segment plan.

Figures printed per run:
- render: wall time of media_pipeline.render.render (one ffmpeg process);
- baseline: wall time of ffmpeg encoding 30 s of 1080x1920 testsrc2 with the
  renderer's own encoder options (graph.encoder_args), no filters, no audio;
- ratio: render / baseline (target <= 1.5 on a 2-core machine);
- cpu ratio: the CPU seconds (user + system) the render's processes used over
  the baseline's. Wall times on a shared machine swing with other tenants'
  load; CPU time swings less, so it tells a real change from noise sooner
  (wall ratio = cpu ratio x the baseline's cores in use / the render's);
- peak RSS: the largest sum of resident memory over this Python process and all
  its descendants, sampled from /proc every 50 ms during the render (target
  < 500 MB). Also shown: ffmpeg's own peak (getrusage RUSAGE_CHILDREN, which is
  the peak of the largest single child, i.e. the render's ffmpeg) and Python's.

With --reference phone (or --whole-job) the whole job is timed as a worker runs it, and this
Python first loads what a render worker's process has loaded (Django, the jobs app, the worker's
modules: as_a_worker), so the peak tree counts the worker's own memory as it is in production.
Each run also prints the CPU seconds of each step and the job's "CPU floor": its CPU seconds over
(the machine's cores x the baseline's wall time), the job ratio it would reach were every core busy
from start to end. A target below the floor cannot be met by scheduling the same work better.

--at-once N measures throughput on the phone reference as `Q_WORKERS=N` runs it: one job alone,
then N of the same job at once, each in a process of its own that has loaded the worker's modules;
it prints both wall times, their ratio and the peak memory of the jobs' process trees.

The machine may be shared: run a few times and read the best and typical values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.phone_media import phone_media  # noqa: E402
from media_pipeline import ffmpeg, graph  # noqa: E402
from media_pipeline.facts import AUDIO, IMAGE, VIDEO, MediaInfo  # noqa: E402
from media_pipeline.loudness import with_music_gain  # noqa: E402
from media_pipeline.plan import CUT, Motion, Plan, Segment, plan_from_dict, plan_to_dict  # noqa: E402
from media_pipeline.render import CHECKING, RENDERING, render  # noqa: E402
from media_pipeline.style import STYLES, get_style  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
MEDIA = OUT / "media"
DURATION = 30.0
WIDTH, HEIGHT, FPS = 1080, 1920, 30
CLIP_SECONDS = 20
SONG_SECONDS = 180


# ---------------------------------------------------------------- reference media


def _ff(*args: str) -> None:
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", *args], timeout=600)


def _clip(name: str, size: str, *, rotate: int = 0, pattern: str = "testsrc2") -> Path:
    path = MEDIA / name
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp4")
    # Phone-like: 2 s keyframe interval, a sound track, a decent bitrate.
    _ff(
        "-f", "lavfi", "-i", f"{pattern}=s={size}:r={FPS}:d={CLIP_SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={CLIP_SECONDS}",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "60", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", str(tmp),
    )
    if rotate:
        _ff("-i", str(tmp), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path))
        tmp.unlink()
    else:
        tmp.rename(path)
    return path


def _photo() -> Path:
    path = MEDIA / "photo_4000x3000.jpg"
    if not path.exists():
        _ff("-f", "lavfi", "-i", "testsrc2=s=4000x3000:d=1", "-frames:v", "1", "-q:v", "3", str(path))
    return path


def _song() -> Path:
    path = MEDIA / "song_3min.m4a"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "tests"))
        from media_factory import drum_track, write_audio

        samples, _ = drum_track(124, SONG_SECONDS)
        write_audio(path, samples)
    return path


def reference_media() -> tuple[list[Path], Path]:
    """The visuals (4 clips, 1 photo) and the song, generated on first use."""
    MEDIA.mkdir(parents=True, exist_ok=True)
    visuals = [
        _clip("landscape_a.mp4", "1920x1080"),
        _clip("portrait_b.mp4", "1080x1920", pattern="smptehdbars"),
        _clip("phone_rotated_c.mp4", "1920x1080", rotate=90),
        _photo(),
        _clip("landscape_d.mp4", "1920x1080", pattern="smptehdbars"),
    ]
    return visuals, _song()


# ---------------------------------------------------------------- the plan


def planned(style_name: str, visuals: list[Path], song: Path, *, hand: bool) -> tuple[Plan, str]:
    """The 30 s plan for `style_name` and where it came from; cached as JSON."""
    if hand:
        return _hand_plan(style_name, visuals, song), "hand-built"
    cache = OUT / f"plan_{style_name}.json"
    if cache.exists():
        plan = plan_from_dict(json.loads(cache.read_text()))
        if plan.music_gain_db is not None:
            return plan, f"plan_edit, cached in {cache.name}"
        how = f"plan_edit, cached in {cache.name}, music gain measured"
    else:
        try:
            plan = _auto_plan(style_name, visuals, song)
        except Exception as exc:  # the planner is optional here: any failure falls back
            return _hand_plan(style_name, visuals, song), f"hand-built (plan_edit unavailable: {exc!r})"
        how = "pipeline.plan_job: probe + look + beat + plan + framing + loudness"
    if plan.music_gain_db is None:  # as the worker's plan has it: the music's gain measured before the render
        plan = with_music_gain(plan, get_style(style_name).audio.loudness)
    cache.write_text(json.dumps(plan_to_dict(plan)))
    return plan, how


def _auto_plan(style_name: str, visuals: list[Path], song: Path) -> Plan:
    from media_pipeline.pipeline import plan_job

    os.environ.setdefault("NUMBA_CACHE_DIR", str(OUT / "numba"))
    # The worker's own call: probe, look beside the beat (librosa in a short-lived process), plan, frame, level.
    return plan_job([str(p) for p in visuals], str(song), style_name, duration=DURATION, cache_dir=str(OUT / "beats"))


def _hand_plan(style_name: str, visuals: list[Path], song: Path) -> Plan:
    """Twelve 2.5 s segments at 120 BPM, alternating cuts and half-beat transitions."""
    style = get_style(style_name)
    dims = [(1920, 1080, 0), (1080, 1920, 0), (1080, 1920, 90), (4000, 3000, 0), (1920, 1080, 0)]
    infos = tuple(
        MediaInfo(str(p), IMAGE if p.suffix == ".jpg" else VIDEO, 0.0 if p.suffix == ".jpg" else CLIP_SECONDS,
                  w, h, 0.0 if p.suffix == ".jpg" else FPS, p.suffix != ".jpg", rotation=r)
        for p, (w, h, r) in zip(visuals, dims)
    )
    names = [t for t in style.transitions if t != CUT] or ["fade"]
    segments = []
    count, slot, overlap = 12, round(DURATION * FPS / 12), 8  # frames: 2.5 s slots, quarter-second transitions
    for k in range(count):
        transition = CUT if k == 0 or k % 2 else names[k // 2 % len(names)]
        into = 0 if transition == CUT else overlap
        nxt = 0 if k + 1 >= count or (k + 1) % 2 else overlap
        first, end = k * slot - into // 2, (k + 1) * slot + nxt // 2
        which = k % len(infos)
        photo = infos[which].kind == IMAGE
        source_in = 0.0 if photo else (k * 1.3) % (CLIP_SECONDS - 4)
        motion = Motion(1.0, style.photo_zoom, 0.5, 0.5, 0.55, 0.45) if photo else None
        segments.append(Segment(which, source_in, source_in + (end - first) / FPS, 1.0, first, end - first, into, FPS,
                                transition, style.reframe, motion))
    return Plan(style_name, WIDTH, HEIGHT, FPS, DURATION, DURATION, infos,
                MediaInfo(str(song), AUDIO, SONG_SECONDS, codec="aac"), 20.0, 20.0 + DURATION, 120.0,
                (), False, tuple(segments))


# ---------------------------------------------------------------- measuring


class TreeRss:
    """Samples the resident memory of this process plus all its descendants, every `interval` s."""

    def __init__(self, interval: float = 0.05, *, itself: bool = True) -> None:
        self.interval = interval
        self.itself = itself  # False: only the descendants (jobs run in processes of their own)
        self.sampler_cpu = 0.0  # CPU seconds of the sampling thread, left out of the job's
        self.peak_kb = 0
        self.step = ""  # set by the caller: peaks are also kept per step
        self.step_peaks_kb: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        root = os.getpid()
        while not self._stop.is_set():
            now = sum(_rss_kb(pid) for pid in _tree(root) if self.itself or pid != root)
            self.peak_kb = max(self.peak_kb, now)
            self.step_peaks_kb[self.step] = max(self.step_peaks_kb.get(self.step, 0), now)
            self.sampler_cpu = time.thread_time()
            self._stop.wait(self.interval)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _job_cpu(rss: TreeRss) -> float:
    """CPU seconds used so far by this process (its sampling thread left out) and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime - rss.sampler_cpu + _children_cpu()


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def baseline(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds to encode 30 s of 1080x1920 testsrc2 with the renderer's encoder options."""
    args = [
        ffmpeg.FFMPEG, "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={DURATION}",
        *graph.encoder_args(FPS), "-an", "-movflags", "+faststart", "-f", "mp4", str(path),
    ]
    cpu, started = _children_cpu(), time.monotonic()
    ffmpeg.run(args, timeout=600)
    return time.monotonic() - started, _children_cpu() - cpu


@dataclass(frozen=True)
class Run:
    style: str
    render: float
    baseline: float
    tree_mb: float
    render_cpu: float
    baseline_cpu: float

    @property
    def ratio(self) -> float:
        return self.render / self.baseline

    @property
    def cpu_ratio(self) -> float:
        return self.render_cpu / self.baseline_cpu


def bench_once(plan: Plan, out: Path, *, low_memory: bool | None = None) -> tuple[float, float, float]:
    """(render seconds, peak tree RSS in MB, CPU seconds of its processes) for one render of `plan`."""
    cpu = _children_cpu()
    with TreeRss() as rss:
        result = render(plan, str(out), timeout=900, low_memory=low_memory)
    return result.elapsed, rss.peak_kb / 1024, _children_cpu() - cpu


# ---------------------------------------------------------------- the whole job

# The steps of a job as pipeline.plan_job and render report them, in order, and what each is called here.
STEPS = ("probe", "look + beat", "plan + frame + level", "proxies", "render", "verify")


@dataclass(frozen=True)
class JobRun:
    style: str
    job: float  # wall seconds, probe to verified MP4
    steps: tuple[float, ...]  # wall seconds of each of STEPS
    render: float  # render.render's wall time: its proxies, its ffmpeg run and the check of the file
    baseline: float
    tree_mb: float  # peak of this process and its children over the whole job
    job_cpu: float  # CPU seconds of the job: this process's and its children's (ffmpeg, the song's analysis)
    step_cpu: tuple[float, ...]  # CPU seconds of each of STEPS
    baseline_cpu: float

    @property
    def ratio(self) -> float:
        return self.job / self.baseline

    @property
    def cpu_floor(self) -> float:
        """The job ratio were every core busy for the whole job: no better schedule of this work beats it."""
        return self.job_cpu / (_cores() * self.baseline)

    @property
    def render_ratio(self) -> float:
        return self.render / self.baseline


def phone_job_inputs(folder: Path) -> list[Path]:
    """The phone-like visuals as a worker gets them: a HEIC photo is a JPEG by then (converted at upload).

    The conversion runs in a process of its own, as it does in the web process: decoding 12 MP would
    otherwise leave this process, which stands in for the worker, about 30 MB larger.
    """
    import subprocess

    inputs = []
    for path in phone_media(MEDIA):
        if path.suffix == ".heic":
            copy = folder / path.name
            copy.write_bytes(path.read_bytes())
            script = "import sys; from pathlib import Path; from media_pipeline.accept import readable_photo; " \
                     "print(readable_photo(Path(sys.argv[1])))"
            done = subprocess.run([sys.executable, "-c", script, str(copy)], capture_output=True, text=True,
                                  check=True, cwd=ROOT, timeout=120)
            path = Path(done.stdout.strip())
        inputs.append(path)
    return inputs


def as_a_worker() -> None:
    """Load what a render worker's process has loaded (Django, the jobs app, the worker's modules), so the
    peak tree includes the worker's own Python as it is in production, not a bare script's."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "editor_site.settings")
    os.environ.setdefault("DEBUG", "1")  # the development settings: no SECRET_KEY needed to load them
    import django

    django.setup()
    import jobs.tasks  # noqa: F401
    import jobs.worker  # noqa: F401


def job_once(
    style_name: str, visuals: list[Path], song: Path, out: Path, scratch: Path, *, low_memory: bool | None = None
) -> tuple[float, ...]:
    """(job seconds, step seconds..., step CPU seconds..., render seconds, peak tree MB, job CPU seconds) for one
    whole job.

    As a worker runs it: the song meets an empty beat cache (a new song), so it is analysed. A step's CPU
    counts a child process when it ends; every child of a step ends within it.
    """
    from jobs import heap
    from media_pipeline.pipeline import plan_job

    marks: dict[str, tuple[float, float]] = {}  # step -> (wall, CPU) when it began
    rss = TreeRss()

    def mark(_: float, step: str) -> None:
        if step not in marks:
            marks[step] = (time.monotonic(), _job_cpu(rss))
            rss.step = step

    cache = Path(tempfile.mkdtemp(prefix="beats-", dir=scratch))
    with rss:
        started = (time.monotonic(), _job_cpu(rss))
        plan = plan_job([str(p) for p in visuals], str(song), style_name, duration=DURATION, cache_dir=str(cache),
                        on_progress=mark)
        planned = (time.monotonic(), _job_cpu(rss))
        result = render(plan, str(out), timeout=900, on_progress=mark, low_memory=low_memory)
        ended = (time.monotonic(), _job_cpu(rss))
    heap.trim()  # as the worker does after each job: the next starts from the worker's own size
    order = [marks["Reading your files"], marks["Looking at your clips"], marks["Planning the cuts"], planned,
             marks.get(RENDERING, planned), marks.get(CHECKING, ended), ended]
    steps = tuple(b[0] - a[0] for a, b in zip(order, order[1:]))
    steps_cpu = tuple(b[1] - a[1] for a, b in zip(order, order[1:]))
    peaks = ", ".join(f"{step or 'start'} {kb / 1024:.0f}" for step, kb in rss.step_peaks_kb.items())
    print(f"         peak tree RSS by step (MB): {peaks}")
    return (ended[0] - started[0], *steps, *steps_cpu, result.elapsed, rss.peak_kb / 1024, ended[1] - started[1])


def bench_jobs(
    names: list[str], visuals: list[Path], song: Path, runs: int, keep: bool, tmp: Path, *, low_memory: bool | None = None
) -> list[JobRun]:
    results: list[JobRun] = []
    for name in names:
        print(f"\n{name}: whole job")
        for k in range(runs):
            out = (OUT if keep else tmp) / f"job_{name}_{k}.mp4"
            job, *rest = job_once(name, visuals, song, out, tmp, low_memory=low_memory)
            steps, steps_cpu = tuple(rest[: len(STEPS)]), tuple(rest[len(STEPS): 2 * len(STEPS)])
            render_s, tree_mb, cpu = rest[2 * len(STEPS):]
            base, base_cpu = baseline(tmp / "baseline.mp4")
            run = JobRun(name, job, steps, render_s, base, tree_mb, cpu, steps_cpu, base_cpu)
            results.append(run)
            shares = "  ".join(f"{step} {seconds / job:4.0%}" for step, seconds in zip(STEPS, steps))
            cpus = "  ".join(f"{step} {seconds:5.1f}" for step, seconds in zip(STEPS, steps_cpu))
            print(f"  run {k + 1}: job {job:6.2f} s  render {render_s:6.2f} s  baseline {base:5.2f} s  "
                  f"job ratio {run.ratio:4.2f}  render ratio {run.render_ratio:4.2f}  peak tree RSS {tree_mb:5.0f} MB")
            print(f"         {shares}")
            print(f"         CPU s: {cpus}; job {cpu:5.1f}, baseline {base_cpu:4.1f}; "
                  f"CPU floor {run.cpu_floor:4.2f} (the job ratio with all {_cores()} cores busy throughout)")
    return results


def summarise_jobs(runs: list[JobRun]) -> None:
    ratios, render_ratios = [r.ratio for r in runs], [r.render_ratio for r in runs]
    print(f"\njob ratio median {statistics.median(ratios):.2f} (worst {max(ratios):.2f}); render ratio median "
          f"{statistics.median(render_ratios):.2f} (worst {max(render_ratios):.2f}); "
          f"CPU floor median {statistics.median(r.cpu_floor for r in runs):.2f}; "
          f"peak tree RSS max {max(r.tree_mb for r in runs):.0f} MB")


def _jobs_at_once(count: int, style_name: str, low_memory: str, tmp: Path) -> tuple[float, float]:
    """(wall seconds, peak MB of the jobs' trees) for `count` phone-like jobs started together, each in a
    process of its own as a worker's, as `Q_WORKERS=count` runs them."""
    import subprocess

    command = [sys.executable, __file__, "--reference", "phone", "--style", style_name, "--low-memory", low_memory,
               "--one-job"]
    with TreeRss(itself=False) as rss:
        started = time.monotonic()
        children = [subprocess.Popen([*command, str(tmp / f"at-once-{k}.mp4")], cwd=ROOT, stdout=subprocess.DEVNULL)
                    for k in range(count)]
        failed = [child.args[-1] for child in children if child.wait()]  # every one waited for, none left running
        if failed:
            raise SystemExit(f"a job failed: {failed[0]}")
        return time.monotonic() - started, rss.peak_kb / 1024


def throughput(count: int, style_name: str, low_memory: str, tmp: Path) -> None:
    one, one_mb = _jobs_at_once(1, style_name, low_memory, tmp)
    print(f"\n{style_name}: one job alone {one:6.1f} s, peak {one_mb:4.0f} MB")
    together, together_mb = _jobs_at_once(count, style_name, low_memory, tmp)
    print(f"{count} at once {together:6.1f} s ({together / one:4.2f} times one), peak {together_mb:4.0f} MB")


def one_job(style_name: str, out: Path, low_memory: bool | None) -> None:
    """A whole phone-like job in this process, as a worker runs it (for --at-once)."""
    as_a_worker()
    with tempfile.TemporaryDirectory(prefix="job-bench-", dir=OUT) as tmp:
        _, song = reference_media()
        job_once(style_name, phone_job_inputs(Path(tmp)), song, out, Path(tmp), low_memory=low_memory)


LOW_MEMORY = {"auto": None, "on": True, "off": False}  # --low-memory as render(low_memory=...) takes it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="CINEMATIC_DRAMA", help="a style name, or 'all'")
    parser.add_argument("--runs", type=int, default=2, help="renders (and baselines) per style")
    parser.add_argument("--keep", action="store_true", help="keep the rendered MP4s in benchmarks/out/")
    parser.add_argument("--hand-plan", action="store_true", help="use the hand-built plan, not plan_edit")
    parser.add_argument("--print-graph", action="store_true", help="print the filter graph")
    parser.add_argument("--reference", choices=("1080p", "phone"), default="1080p",
                        help="1080p: the render alone on the 1080p reference (default); phone: the whole job "
                             "(probe, look, beat, plan, render, verify) on the phone-like reference")
    parser.add_argument("--whole-job", action="store_true", help="time the whole job on the 1080p reference too")
    parser.add_argument("--low-memory", choices=tuple(LOW_MEMORY), default="auto",
                        help="as RENDER_LOW_MEMORY: auto (the default: x264's sliced threads for a job with clips "
                             "worth a proxy), on or off for every render; the baseline stays the same")
    parser.add_argument("--at-once", type=int, metavar="N",
                        help="throughput: one phone-like job alone, then N at once (as Q_WORKERS=N runs them)")
    parser.add_argument("--one-job", type=Path, help=argparse.SUPPRESS)  # a child of --at-once: its MP4
    args = parser.parse_args()
    MEDIA.mkdir(parents=True, exist_ok=True)  # its parent holds the runs' scratch folders, even on a fresh checkout
    if args.one_job:
        return one_job(args.style, args.one_job, LOW_MEMORY[args.low_memory])
    if args.at_once is not None:
        if args.at_once < 1:
            parser.error("--at-once takes how many jobs run together: 1 or more")
        if args.style == "all":
            parser.error("--at-once runs one style: name it with --style")
        reference_media()  # the song; both made before the clock starts
        phone_media(MEDIA)
        with tempfile.TemporaryDirectory(prefix="at-once-", dir=OUT) as tmp:
            throughput(args.at_once, args.style, args.low_memory, Path(tmp))
        return
    args.low_memory = LOW_MEMORY[args.low_memory]

    names = list(STYLES) if args.style == "all" else [args.style]
    if args.reference == "phone" or args.whole_job:
        as_a_worker()
        with tempfile.TemporaryDirectory(prefix="job-bench-", dir=OUT) as tmp:
            visuals, song = reference_media()
            if args.reference == "phone":
                visuals = phone_job_inputs(Path(tmp))
            summarise_jobs(bench_jobs(names, visuals, song, args.runs, args.keep, Path(tmp), low_memory=args.low_memory))
        return
    visuals, song = reference_media()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="render-bench-", dir=OUT) as tmp:
        for name in names:
            with TreeRss() as planning:
                plan, source = planned(name, visuals, song, hand=args.hand_plan)
            if "cached" not in source:
                source += f" (peak tree RSS {planning.peak_kb / 1024:.0f} MB)"
            cuts = sum(1 for s in plan.segments[1:] if s.transition == CUT)
            print(f"\n{name}: {len(plan.segments)} segments ({cuts} cuts, "
                  f"{len(plan.segments) - 1 - cuts} transitions), plan: {source}")
            if args.print_graph:
                command = graph.build_command(plan, "out.mp4")
                print(command[command.index("-filter_complex") + 1].replace(";", ";\n"))
            for k in range(args.runs):
                out = (OUT if args.keep else Path(tmp)) / f"bench_{name}_{k}.mp4"
                seconds, tree_mb, cpu = bench_once(plan, out, low_memory=args.low_memory)
                base, base_cpu = baseline(Path(tmp) / "baseline.mp4")
                run = Run(name, seconds, base, tree_mb, cpu, base_cpu)
                runs.append(run)
                print(f"  run {k + 1}: render {seconds:6.2f} s  baseline {base:5.2f} s  "
                      f"ratio {run.ratio:4.2f}  cpu ratio {run.cpu_ratio:4.2f}  peak tree RSS {tree_mb:5.0f} MB")
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratios = [r.ratio for r in runs]
    cpu_ratios = [r.cpu_ratio for r in runs]
    print(f"\nratio best {min(ratios):.2f}, median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}; "
          f"cpu ratio median {statistics.median(cpu_ratios):.2f}")
    print(f"peak tree RSS max {max(r.tree_mb for r in runs):.0f} MB "
          f"(largest single ffmpeg {children_mb:.0f} MB, this Python {self_mb:.0f} MB)")


if __name__ == "__main__":
    main()
