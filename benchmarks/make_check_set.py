"""Build a second labelled set for benchmarks/beat_eval.py: pieces the analysis was not tuned on.

    apt-get install mma fluidsynth fluid-soundfont-gm espeak-ng
    .venv/bin/pip install pretty_midi==0.2.10
    .venv/bin/python benchmarks/make_check_set.py /tmp/check-set
    .venv/bin/python benchmarks/beat_eval.py --folder /tmp/check-set

MMA (Musical MIDI Accompaniment) plays grooves of styles the shared set lacks
(bossa nova, country waltz, ska, tango, funk, a 6/8 blues, a fast waltz, an
accelerando and a ritardando), FluidSynth renders them, and the reference beats
come from each MIDI file's own tempo map, so they are exact. The pieces with no
beat are made here: a pad whose chords start at random (not on a grid), a rubato
piano, rain, and espeak-ng reading three unrelated sentences. Nothing is written
into the project; the set is for checking, not for tuning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RATE = 44100
# (name, MMA groove, tempo, bars, meter as counted); a second tempo makes it drift to that tempo.
GROOVES = [
    ("countrywaltz", "CountryWaltz", 100, None, 24, 3),
    ("bossanova", "BossaNova", 132, None, 20, 4),
    ("funk", "BVFunk", 129, None, 20, 4),
    ("blues68", "Blues68", 60, None, 8, 6),  # MMA counts its six eighths at 60 a minute
    ("fastwaltz", "FastWaltz", 190, None, 40, 3),
    ("dixie", "Dixie", 116, None, 20, 4),
    ("ska", "Ska", 150, None, 24, 4),
    ("stringballad", "StringBallad", 70, None, 12, 4),
    ("ragtime", "Ragtime", 100, None, 16, 4),
    ("slowcountry", "SlowCountry", 80, None, 12, 4),
    ("vienesewaltz", "VieneseWaltz", 170, None, 36, 3),
    ("polka", "Polka", 120, None, 20, 4),
    ("tango", "Tango", 124, None, 20, 4),
    ("accel_rock", "50sRock", 90, 130, 20, 4),
    ("rit_ballad", "PianoBallad", 110, 70, 14, 4),
]
SENTENCES = [
    ("en-gb", 140, "Good evening. Tonight we look at how rivers change their course over many centuries."),
    ("en-us", 165, "Well, I never thought it would rain this much in July, but here we are, umbrellas everywhere."),
    ("en-gb+f3", 125, "The committee will meet on Thursday to discuss the budget and whether the repairs can wait."),
]


def main(argv: list[str]) -> int:
    import pretty_midi

    out = Path(argv[0] if argv else "check-set")
    out.mkdir(parents=True, exist_ok=True)
    labels = {}
    for name, groove, tempo, to_tempo, bars, meter in GROOVES:
        chords = ["C", "Am", "F", "G7"] * (bars // 4)
        lines = [f"Tempo {tempo}", f"Groove {groove}", chords[0]]
        if to_tempo:
            lines.append(f"Tempo {to_tempo} {bars * 4 - 8}")  # MMA: reach it over that many beats
        mma = out / f"{name}.mma"
        mma.write_text("\n".join(lines + chords[1:]) + "\n")
        subprocess.run(["mma", str(mma), "-f", str(out / f"{name}.mid")], check=True, capture_output=True)
        _render(out, name)
        midi = pretty_midi.PrettyMIDI(str(out / f"{name}.mid"))
        end = midi.get_end_time()
        # Every MMA beat is one MIDI quarter note, whatever the written time signature.
        ticks = np.arange(0, midi.time_to_tick(end), midi.resolution)
        beats = np.array([midi.tick_to_time(int(t)) for t in ticks])
        beats = beats[beats < end - 0.2]
        labels[f"{name}.wav"] = {
            "kind": "drifting" if to_tempo else "steady",
            "tempo": None if to_tempo else float(tempo),
            "meter": meter,
            "beats": [round(float(b), 4) for b in beats],
            "downbeats": [round(float(b), 4) for b in beats[::meter]],
            "exact": True,
        }
    for name in _no_beat(out, pretty_midi):
        labels[f"{name}.wav"] = {"kind": "none", "tempo": None, "meter": None, "beats": [], "downbeats": [], "exact": True}
    (out / "labels.json").write_text(json.dumps(labels))
    print(f"{len(labels)} pieces in {out}")
    return 0


def _render(out: Path, name: str) -> None:
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-r", str(RATE), "-F", str(out / f"{name}.wav"), SOUNDFONT, str(out / f"{name}.mid")],
        check=True, capture_output=True,
    )


def _no_beat(out: Path, pretty_midi) -> list[str]:
    rng = np.random.default_rng(42)
    pad = pretty_midi.PrettyMIDI()
    for program in (89, 52, 48):  # warm pad, choir, strings
        instrument, at = pretty_midi.Instrument(program=program), 0.0
        while at < 40:
            root, length = int(rng.choice([48, 50, 53, 55, 57])), rng.uniform(2.5, 7.0)
            for step in (0, 4, 7, 12):
                instrument.notes.append(pretty_midi.Note(int(rng.integers(40, 70)), root + step, at, at + length))
            at += rng.uniform(1.3, 4.7)
        pad.instruments.append(instrument)
    piano, at = pretty_midi.Instrument(program=0), 0.3
    while at < 40:
        for _ in range(int(rng.integers(3, 9))):
            pitch, step = int(rng.integers(55, 80)), rng.uniform(0.15, 0.9) * rng.choice([1, 1, 2, 0.5])
            piano.notes.append(pretty_midi.Note(int(rng.integers(35, 90)), pitch, at, at + 1.5 * step))
            at += step
        at += rng.uniform(0.8, 2.5)
    rubato = pretty_midi.PrettyMIDI()
    rubato.instruments.append(piano)
    for name, midi in (("pad", pad), ("rubato", rubato)):
        midi.write(str(out / f"{name}.mid"))
        _render(out, name)
    _rain(out / "rain.wav", rng)
    parts = []
    for i, (voice, speed, text) in enumerate(SENTENCES):
        parts.append(out / f"speech{i}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(parts[-1]), text], check=True)
    inputs = [arg for part in parts for arg in ("-i", str(part))]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", f"concat=n={len(parts)}:v=0:a=1", str(out / "speech.wav")],
        check=True,
    )
    for part in parts:
        part.unlink()
    return ["pad", "rubato", "rain", "speech"]


def _rain(path: Path, rng: np.random.Generator) -> None:
    from scipy.signal import lfilter

    count = 40 * RATE
    sound = lfilter([1.0], [1.0, -0.95], rng.standard_normal(count) * 0.005)
    for at in rng.uniform(0, 40, 400):
        start = int(at * RATE)
        drop = rng.standard_normal(min(882, count - start)) * np.exp(-np.arange(min(882, count - start)) / 300)
        sound[start : start + len(drop)] += drop * rng.uniform(0.05, 0.4)
    pcm = (sound / np.abs(sound).max() * 0.7 * 32767).astype("<i2")
    import wave

    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(pcm.tobytes())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
