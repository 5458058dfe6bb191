"""Beat-tracking evaluation on labelled real music, scored with mir_eval.

Run from the project root (the labelled set sits beside the project, never inside it):

    .venv/bin/python benchmarks/beat_eval.py                       # ../shared/media/music/beats
    .venv/bin/python benchmarks/beat_eval.py --folder DIR --check  # exit 1 when a floor is missed

The folder holds audio files and `labels.json`, which maps each file name to
`kind` (steady, drifting or none), `tempo` (BPM of the counted beat, null when it
drifts or there is none), `meter` (beats per bar; 6 means 6/8 counted in dotted
quarters, two beats a bar), `beats` and `downbeats` (seconds) and `exact` (true
when the reference comes from the score's own tempo map, false when it is the
agreement of two trackers on a recording).

Per track it prints the beat / no-beat decision against the label, the tempo
found, beat F-measure at +-70 ms, AMLt (continuity that also accepts double or
half tempo and the off-beat: a low F with a high AMLt is an octave or phase
error, not a lost beat), downbeat F-measure, the meter found and the CPU seconds
the analysis took. As MIREX does, the first 5 s of reference and estimate are
left out of the beat scores (mir_eval.beat.trim_beats): trackers need a few
beats to lock on, and so does a listener. It then prints the floors of issue 12
and whether each is met, and the CPU time of analysing a 3-minute song (the
first track looped), which must stay under 5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mir_eval  # noqa: E402

from media_pipeline.beat import SAMPLE_RATE, analyze_samples, decode_mono  # noqa: E402
from media_pipeline.facts import BeatGrid  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "media" / "music" / "beats"
STEADY, DRIFTING, NONE = "steady", "drifting", "none"

# The floors the analysis must meet (issue 12).
MIN_F_EXACT = 0.90  # median beat F over steady tracks with exact references
MIN_F_STEADY = 0.80  # median beat F over all steady tracks
MIN_F_DRIFTING = 0.80  # beat F on every drifting track
TEMPO_TOLERANCE = 0.04
MAX_CPU_3_MIN = 5.0  # CPU seconds to analyse a 3-minute song
SONG_SECONDS = 180.0


@dataclass(frozen=True)
class TrackScore:
    name: str
    kind: str
    exact: bool
    found_beat: bool
    label_tempo: float | None
    tempo: float
    tempo_ok: bool | None  # None when the label has no single tempo
    f_measure: float | None  # None for tracks with no beat
    amlt: float | None
    downbeat_f: float | None  # None when the label has no downbeats
    label_meter: int | None
    meter: int
    cpu_seconds: float

    @property
    def decision_ok(self) -> bool:
        return self.found_beat == (self.kind != NONE)


def load_labels(folder: Path) -> dict[str, dict]:
    return json.loads((folder / "labels.json").read_text())


def analyse(path: Path) -> tuple[BeatGrid, float]:
    """The grid of one file and the CPU seconds its analysis took (decoding excluded)."""
    samples = decode_mono(str(path))
    started = time.process_time()
    grid = analyze_samples(samples)
    return grid, time.process_time() - started


def tempo_matches(found: float, label: float | None, meter: int | None) -> bool | None:
    """Within 4% of the labelled tempo, or of its double or half (which the style's pacing can use)."""
    if not label:
        return None
    return any(abs(found - label * k) <= TEMPO_TOLERANCE * label * k for k in (1.0, 2.0, 0.5))


def score(name: str, label: dict, grid: BeatGrid, cpu: float) -> TrackScore:
    reference = mir_eval.beat.trim_beats(np.asarray(label["beats"], dtype=float))
    estimate = mir_eval.beat.trim_beats(np.asarray(grid.beats, dtype=float))
    beat_f = amlt = downbeat_f = None
    if label["kind"] != NONE:
        beat_f = mir_eval.beat.f_measure(reference, estimate)
        amlt = mir_eval.beat.continuity(reference, estimate)[3] if len(estimate) > 1 else 0.0
        if label.get("downbeats"):
            downbeat_f = mir_eval.beat.f_measure(
                mir_eval.beat.trim_beats(np.asarray(label["downbeats"], dtype=float)),
                mir_eval.beat.trim_beats(np.asarray(grid.downbeats, dtype=float)),
            )
    return TrackScore(
        name=name,
        kind=label["kind"],
        exact=bool(label.get("exact")),
        found_beat=grid.has_beat,
        label_tempo=label.get("tempo"),
        tempo=grid.tempo,
        tempo_ok=tempo_matches(grid.tempo, label.get("tempo"), label.get("meter")) if grid.has_beat else False,
        f_measure=beat_f,
        amlt=amlt,
        downbeat_f=downbeat_f,
        label_meter=label.get("meter"),
        meter=grid.meter,
        cpu_seconds=cpu,
    )


def evaluate(folder: Path, names: list[str] | None = None) -> list[TrackScore]:
    labels = load_labels(folder)
    scores = []
    for name, label in labels.items():
        if names and name not in names:
            continue
        grid, cpu = analyse(folder / name)
        scores.append(score(name, label, grid, cpu))
    return scores


def floors(scores: list[TrackScore]) -> list[tuple[str, str, bool]]:
    """(what, measured, met) for each floor of issue 12."""
    steady = [s for s in scores if s.kind == STEADY]
    exact = [s for s in steady if s.exact]
    drifting = [s for s in scores if s.kind == DRIFTING]
    rows = []
    missed = [s.name for s in scores if not s.decision_ok]
    rows.append(("beat / no-beat decision right on every track", ", ".join(missed) or "all right", not missed))
    for what, group, floor in (("exact steady", exact, MIN_F_EXACT), ("all steady", steady, MIN_F_STEADY)):
        if group:
            median = statistics.median(s.f_measure or 0.0 for s in group)
            rows.append((f"median F on {what} tracks >= {floor:.2f}", f"{median:.3f}", median >= floor))
    if drifting:
        low = min(s.f_measure or 0.0 for s in drifting)
        rows.append((f"F on every drifting track >= {MIN_F_DRIFTING:.2f}", f"lowest {low:.3f}", low >= MIN_F_DRIFTING))
    wrong_tempo = [s.name for s in steady if not s.tempo_ok]
    rows.append(("tempo within 4% (or at double/half) on steady tracks", ", ".join(wrong_tempo) or "all", not wrong_tempo))
    bars = [s for s in scores if s.label_meter in (3, 4)]
    wrong_meter = [s.name for s in bars if s.found_beat and s.meter != s.label_meter]
    rows.append(("3/4 in bars of three, 4/4 in bars of four", ", ".join(wrong_meter) or "all", not wrong_meter))
    return rows


def song_cpu_seconds(path: Path) -> float:
    """CPU seconds (decoding excluded) to analyse SONG_SECONDS of `path`, looped to that length."""
    samples = decode_mono(str(path))
    need = int(SONG_SECONDS * SAMPLE_RATE)
    looped = np.resize(samples, need).astype(np.float32)
    analyze_samples(looped[: SAMPLE_RATE * 5])  # warm librosa's compiled kernels first
    started = time.process_time()
    analyze_samples(looped)
    return time.process_time() - started


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(scores: list[TrackScore]) -> None:
    print("| track | kind | exact | beat found | tempo (label) | F | AMLt | downbeat F | meter (label) | CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in scores:
        decision = ("yes" if s.found_beat else "no") + ("" if s.decision_ok else " (wrong)")
        tempo = f"{s.tempo:.1f} ({_fmt(s.label_tempo, 1)})" + (" (wrong)" if s.tempo_ok is False and s.kind == STEADY else "")
        meter = f"{s.meter if s.found_beat else '-'} ({s.label_meter or '-'})"
        print(
            f"| {s.name} | {s.kind} | {'yes' if s.exact else 'no'} | {decision} | {tempo} | {_fmt(s.f_measure)} "
            f"| {_fmt(s.amlt)} | {_fmt(s.downbeat_f)} | {meter} | {s.cpu_seconds:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--only", nargs="*", help="file names to evaluate (default: all)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a floor is missed")
    parser.add_argument("--no-song", action="store_true", help="skip the 3-minute CPU measurement")
    options = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="mir_eval")  # "Estimated beats are empty" on no-beat tracks
    if not (options.folder / "labels.json").is_file():
        print(f"beat_eval: no labels.json in {options.folder}", file=sys.stderr)
        return 2
    scores = evaluate(options.folder, options.only)
    print_table(scores)
    print()
    met = True
    for what, measured, ok in floors(scores):
        met &= ok
        print(f"- [{'x' if ok else ' '}] {what}: {measured}")
    if not options.no_song:
        first = next(iter(load_labels(options.folder)))
        cpu = song_cpu_seconds(options.folder / first)
        ok = cpu < MAX_CPU_3_MIN
        met &= ok
        print(f"- [{'x' if ok else ' '}] a 3-minute song analysed in under {MAX_CPU_3_MIN:.0f} s of CPU: {cpu:.2f} s")
    return 0 if met or not options.check else 1


if __name__ == "__main__":
    sys.exit(main())
