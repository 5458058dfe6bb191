"""Synthesised test media: small clips, photos and songs made with ffmpeg and numpy, so tests run anywhere."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


def make_clip(
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    seconds: float = 3.0,
    fps: int = 30,
    audio: bool = False,
    rotate: int = 0,
    sar: str = "",
    pattern: str = "testsrc2",
    codec: str = "libx264",
) -> Path:
    """A test-pattern clip. rotate sets display-rotation metadata; sar e.g. '2/3' makes non-square pixels."""
    path = Path(path)
    vf = f"setsar={sar}" if sar else "null"
    args = ["-f", "lavfi", "-i", f"{pattern}=s={width}x{height}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    args += ["-vf", vf, "-c:v", codec, "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    if not rotate:
        _ffmpeg(*args, str(path))
        return path
    # ffmpeg 5.1 keeps rotation metadata only on a stream copy.
    plain = path.with_suffix(".norotate" + path.suffix)
    _ffmpeg(*args, str(plain))
    _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path))
    plain.unlink()
    return path


def make_hdr_clip(
    path: Path, *, transfer: str = "smpte2084", colour: str = "0x00a000", width: int = 320, height: int = 180,
    seconds: float = 2.0, transfer_only: bool = False,
) -> Path:
    """A 10-bit BT.2020 clip tagged as HDR (transfer smpte2084 = PQ, arib-std-b67 = HLG) of one flat colour.

    The colour is taken as the HDR signal's own R'G'B' code values: 0x00a000 is a
    green that BT.2020 can hold and BT.709 cannot.
    """
    path = Path(path)
    _ffmpeg(
        "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r=30:d={seconds}",
        "-vf", "format=gbrp,scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le",
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high10",
        # transfer_only: tagged with its transfer alone, as some exports are.
        *([] if transfer_only else ["-color_primaries", "bt2020", "-colorspace", "bt2020nc"]),
        "-color_trc", transfer, "-color_range", "tv",
        str(path),
    )
    return path


def make_heic(path: Path, *, width: int = 640, height: int = 480) -> Path:
    """An iPhone-style HEIC photo: the left half red, the right half blue."""
    import pillow_heif
    from PIL import Image

    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    pillow_heif.from_pillow(image).save(str(path), quality=90)
    return Path(path)


def make_photo(path: Path, *, width: int = 640, height: int = 480, pattern: str = "testsrc2") -> Path:
    """A still image; the format follows the extension (.jpg, .png, .webp)."""
    path = Path(path)
    _ffmpeg("-f", "lavfi", "-i", f"{pattern}=s={width}x{height}:d=1", "-frames:v", "1", str(path))
    return path


def make_subject(
    path: Path, *, width: int = 320, height: int = 180, at: tuple[float, float] = (0.8, 0.5),
    seconds: float = 0.0, size: float = 0.12,
) -> Path:
    """One bright square (size: a share of the shorter side) at `at` (fractions) on a dark, grainy ground.

    seconds > 0 makes an H.264 clip with a keyframe every half second (phones write one
    every second or two); otherwise a still, its format following the extension.
    """
    path = Path(path)
    side = int(min(width, height) * size)
    x, y = int(at[0] * width - side / 2), int(at[1] * height - side / 2)
    source = f"color=c=0x303030:s={width}x{height}:r=30" + (f":d={seconds}" if seconds else ":d=1")
    square = f"drawbox=x={x}:y={y}:w={side}:h={side}:color=white:t=fill," if side else ""  # w=0 would mean all
    chain = f"{square}noise=alls=12:allf=t"
    if not seconds:
        _ffmpeg("-f", "lavfi", "-i", source, "-vf", chain, "-frames:v", "1", str(path))
        return path
    _ffmpeg("-f", "lavfi", "-i", source, "-vf", chain, "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
            "-pix_fmt", "yuv420p", str(path))
    return path


# A static, blotchy texture (blobs about 10 px across) for a scene's background: enough
# structure at a 64-pixel sample for a camera's move to be told from a subject's.
def _texture(width: int, height: int, seconds: float) -> str:
    return (
        f"color=c=0x505050:s={width // 10}x{height // 10}:r=30:d={seconds},noise=alls=90:allf=u,"
        f"scale={width}:{height}:flags=bicubic"
    )


def make_waking_clip(path: Path, *, still_for: float = 3.0, seconds: float = 6.0) -> Path:
    """A still, textured scene whose white square sits still for `still_for` seconds, then crosses the frame.

    320x180, a keyframe every half second, a little moving grain as a camera has.
    """
    path = Path(path)
    speed = 250 / max(seconds - still_for, 0.1)  # pixels a second: across the frame in the time left
    x = f"if(lt(t,{still_for}),20,20+{speed:.3f}*(t-{still_for}))"
    graph = (
        f"{_texture(320, 180, seconds)}[ground];color=c=white:s=40x40:r=30:d={seconds}[square];"
        f"[ground][square]overlay=x='{x}':y=70,noise=alls=6:allf=t"
    )
    _ffmpeg("-filter_complex", graph, "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
            "-pix_fmt", "yuv420p", str(path))
    return path


def make_walking_figure(path: Path, *, seconds: float = 4.0, start: float = 0.1, end: float = 0.8) -> Path:
    """A white figure (24x100 px, standing) crossing a dark 320x180 scene from `start` to `end` (its left
    edge, as shares of the width) at an even pace; a keyframe every half second.

    figure_box(t, ...) says where it is at t seconds.
    """
    path = Path(path)
    x = f"{start * 320:.3f}+{(end - start) * 320 / seconds:.5f}*t"
    graph = (
        f"color=c=0x303030:s=320x180:r=30:d={seconds}[ground];color=c=white:s=24x100:r=30:d={seconds}[figure];"
        f"[ground][figure]overlay=x='{x}':y=50,noise=alls=6:allf=t"
    )
    _ffmpeg("-filter_complex", graph, "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
            "-pix_fmt", "yuv420p", str(path))
    return path


def figure_box(t: float, *, seconds: float = 4.0, start: float = 0.1, end: float = 0.8) -> tuple[float, float, float, float]:
    """make_walking_figure's figure at t seconds: left, top, width, height as shares of the picture."""
    return start + (end - start) * t / seconds, 50 / 180, 24 / 320, 100 / 180


def make_panning_clip(path: Path, *, seconds: float = 4.0, speed: float = 60.0) -> Path:
    """A camera panning across a still, textured scene at `speed` pixels a second: nothing in it moves.

    320x180, a keyframe every half second.
    """
    path = Path(path)
    width = int(320 + speed * seconds) + 10
    graph = f"{_texture(width, 180, seconds)},crop=320:180:x='t*{speed}':y=0,noise=alls=6:allf=t"
    _ffmpeg("-filter_complex", graph, "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
            "-pix_fmt", "yuv420p", str(path))
    return path


def make_montage(path: Path, *, cuts: tuple[float, ...] = (2.3,), seconds: float = 4.0, keyframe_every: int = 30) -> Path:
    """A 320x180 clip whose picture cuts between unlike shots at `cuts` (seconds).

    Keyframes come every `keyframe_every` frames and never at a cut (as an editor's
    export with a fixed keyframe interval writes them).
    """
    path = Path(path)
    shots = ["testsrc2", "smptebars", "color=c=white:", "rgbtestsrc"]
    bounds = [0.0, *cuts, seconds]
    inputs, parts = [], []
    for k, (start, end) in enumerate(zip(bounds, bounds[1:])):
        source = shots[k % len(shots)]
        options = f"s=320x180:r=30:d={end - start:.3f}"
        inputs += ["-f", "lavfi", "-i", f"{source}{options}" if source.endswith(":") else f"{source}={options}"]
        parts.append(f"[{k}:v]format=yuv420p,setsar=1[s{k}]")
    shots_in_order = "".join(f"[s{k}]" for k in range(len(parts)))
    graph = ";".join([*parts, f"{shots_in_order}concat=n={len(parts)}:v=1:a=0[v]"])
    _ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", str(keyframe_every), "-sc_threshold", "0", str(path))
    return path


def drum_track(bpm: float, seconds: float, *, swing: float = 0.0, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, list[float]]:
    """A mono drum loop: kick on every beat, snare on 2 and 4, hats on the (swung) off-beats.

    swing 0.0 is straight; 0.33 pushes each off-beat a third of the way to the next beat.
    Returns the samples and the true beat times.
    """
    n = int(seconds * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    beat = 60.0 / bpm
    beats = list(np.arange(0.0, seconds - 0.05, beat))

    def add(at: float, sound: np.ndarray) -> None:
        i = int(at * sample_rate)
        j = min(n, i + len(sound))
        if i < n:
            out[i:j] += sound[: j - i]

    t = np.arange(int(0.25 * sample_rate)) / sample_rate
    kick = (np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12)).astype(np.float32)
    rng = np.random.default_rng(7)
    snare = (rng.standard_normal(len(t)) * np.exp(-t * 25) * 0.5).astype(np.float32)
    hat = (rng.standard_normal(len(t) // 5) * np.exp(-t[: len(t) // 5] * 80) * 0.2).astype(np.float32)
    for k, b in enumerate(beats):
        add(b, kick)
        if k % 2 == 1:
            add(b, snare)
        add(b + beat * (0.5 + swing / 2), hat)
    out /= max(1e-6, float(np.abs(out).max())) / 0.8
    return out, [float(b) for b in beats]


def ambient_track(seconds: float, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A beatless pad: slowly drifting sines, no onsets."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pad = sum(np.sin(2 * np.pi * f * t + p) for f, p in ((220.0, 0), (277.2, 1), (329.6, 2)))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * t / max(seconds, 1.0))
    return (pad * env / 4).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float samples; .wav directly, anything else (.mp3, .m4a, .ogg) through ffmpeg."""
    path = Path(path)
    wav_path = path if path.suffix == ".wav" else path.with_suffix(".src.wav")
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    if wav_path != path:
        _ffmpeg("-i", str(wav_path), str(path))
        wav_path.unlink()
    return path


def make_song(path: Path, *, bpm: float = 120, seconds: float = 8.0, swing: float = 0.0) -> Path:
    """A drum-loop song file at a known tempo."""
    samples, _ = drum_track(bpm, seconds, swing=swing)
    return write_audio(path, samples)
