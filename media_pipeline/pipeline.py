"""One call from a job's files to its finished plan: probe, look beside the beat, plan, frame, level.

    plan = plan_job(["a.mp4", "b.jpg"], "song.mp3", "ENERGETIC_DANCE", cache_dir="var/beats")
    render(plan, "out.mp4")

The worker, the benchmark and the shared-media test all go through here, so the order of the steps
is written once. Planning never renders: the caller hands the plan to `render.render`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .analysis_cache import cached_looks, cached_probe, content_hash
from .beat import analyze_music, analyze_music_apart
from .facts import MediaInfo
from .framing import with_focus
from .limits import DEFAULT_ASPECT, DEFAULT_DURATION
from .look import SURVEY_PROCESSES, Look, heavy_to_decode, liveliness, survey, survey_apart
from .loudness import with_music_gain
from .plan import Plan
from .planner import plan_edit
from .probe import probe_audio, probe_visual
from .style import get_style

Progress = Callable[[float, str], None]

# What the creator reads while the plan is made, and how far along (0-100) of the planning each step is.
READING = (10.0, "Reading your files")
LOOKING = (25.0, "Looking at your clips")
LISTENING = (40.0, "Finding the beat")
PLANNING = (75.0, "Planning the cuts")


def plan_job(
    visuals: Sequence[str],
    song: str,
    style: str,
    *,
    duration: float = DEFAULT_DURATION,
    aspect: str = DEFAULT_ASPECT,
    cache_dir: str | None = None,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> Plan:
    """The finished plan for these files: beat-synced, framed on what stands out, its music levelled.

    visuals: paths of the clips and photos, in the creator's order; song: the music's path.
    cache_dir: where song analyses and the clips' looks are kept (a remix of the same files finds
    both there); with it the song is analysed and the clips are looked at in processes of their own,
    so the caller never holds librosa's or OpenCV's memory (beat.analyze_music_apart, look.survey_apart).
    size: a frame size other than the aspect's (small test renders).
    seed: 0 for the planner's first choice, another number for another edit of the same files.
    Raises UnsupportedMedia for a file that can't be used and PlanError for a request that can't be planned.
    """
    chosen = get_style(style)
    report = on_progress or (lambda percent, step: None)
    report(*READING)
    if cache_dir is None:
        infos = [probe_visual(path) for path in visuals]
        music = probe_audio(song)
    else:  # a remix's files were probed and looked at by the job it came from
        digests = [content_hash(path) for path in visuals]
        infos = [cached_probe(path, probe_visual, cache_dir=cache_dir, digest=d) for path, d in zip(visuals, digests)]
        music = cached_probe(song, probe_audio, cache_dir=cache_dir)
    # ffmpeg looks at the clips while the song is analysed. The analysis stays on this thread:
    # a Ctrl-C or a cancelled task stops it at once. A clip whose decoder is heavy (4K, 10-bit) is
    # looked at first, alone: beside the analysis and another decoder it would double the job's peak.
    report(*LOOKING)
    heavy = any(heavy_to_decode(info) for info in infos)

    def look(visuals: Sequence[MediaInfo]) -> tuple[Look, ...]:
        processes = 1 if heavy else SURVEY_PROCESSES
        if cache_dir is None:
            return survey(visuals, processes=processes)
        return survey_apart(visuals, processes=processes)

    def look_or_recall() -> tuple[Look, ...]:
        return look(infos) if cache_dir is None else cached_looks(infos, look, cache_dir=cache_dir, digests=digests)

    with ThreadPoolExecutor(max_workers=1) as pool:
        looking = pool.submit(look_or_recall)
        if heavy:
            looking.result()
        report(*LISTENING)
        grid = analyze_music(music.path) if cache_dir is None else analyze_music_apart(music.path, cache_dir=cache_dir)
        looks = looking.result()
    report(*PLANNING)
    plan = plan_edit(
        infos, music, grid, chosen, duration=duration, aspect=aspect, size=size,
        liveliness=[liveliness(look) for look in looks], seed=seed,
    )
    plan = with_focus(plan, looks)
    return with_music_gain(plan, chosen.audio.loudness)
