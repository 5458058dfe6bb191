"""The phone-like reference media: what phones hand the editor, generated once with ffmpeg.

A 4K30 H.264 landscape clip; a 4K HEVC 10-bit HLG clip stored on its side with rotation
metadata (a portrait iPhone clip); a 1080p60 H.264 portrait clip; a 12 MP JPEG and a 12 MP
HEIC photo: five, the most a job takes (a 1080p30 clip is what the 1080p reference is made
of). Each clip is 20 s with a sound track and a 2 s keyframe interval, as phones write them.
Kept in benchmarks/out/media and reused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from media_pipeline import ffmpeg

CLIP_SECONDS = 20
PHOTO_SIZE = (4032, 3024)  # 12 MP, as a phone's main camera


def _ff(*args: str) -> None:
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", *args], timeout=1800)


def _sources(size: str, fps: int, pattern: str) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"{pattern}=s={size}:r={fps}:d={CLIP_SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={CLIP_SECONDS}",
    ]


def _h264(path: Path, size: str, fps: int, pattern: str = "testsrc2") -> Path:
    if not path.exists():
        tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
        _ff(*_sources(size, fps, pattern), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-g", str(2 * fps), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(tmp))
        tmp.rename(path)
    return path


def _hlg_on_its_side(path: Path) -> Path:
    """4K HEVC Main 10, BT.2020 HLG, stored landscape with a 90-degree rotation: how an iPhone films portrait."""
    if not path.exists():
        tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
        # Moving pictures with a little sensor noise, so decoding costs what a phone's clip costs (30-50 Mb/s).
        _ff(*_sources("3840x2160", 30, "testsrc2"),
            "-vf", "noise=alls=6:allf=t,format=gbrp,scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le",
            "-c:v", "libx265", "-preset", "ultrafast", "-crf", "20",
            "-x265-params", "log-level=error:keyint=60:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
            "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc",
            "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "128k", str(tmp))
        _ff("-i", str(tmp), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path))
        tmp.unlink()
    return path


def _photos(folder: Path) -> tuple[Path, Path]:
    jpeg, heic = folder / "phone_photo_12mp.jpg", folder / "phone_photo_12mp.heic"
    if not jpeg.exists():
        _ff("-f", "lavfi", "-i", f"testsrc2=s={PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}:d=1", "-frames:v", "1",
            "-q:v", "3", str(jpeg))
    if not heic.exists():
        # In a process of its own: encoding 12 MP left the benchmark's Python about 78 MB larger, which the
        # whole-job figures of a fresh checkout's first run then counted in every step.
        subprocess.run([sys.executable, "-c", _HEIC_SCRIPT, str(jpeg), str(heic)], check=True, timeout=600)
    return jpeg, heic


_HEIC_SCRIPT = """
import sys
import pillow_heif  # only the benchmark makes HEIC files
from PIL import Image

with Image.open(sys.argv[1]) as image:
    pillow_heif.from_pillow(image.transpose(Image.Transpose.ROTATE_90)).save(sys.argv[2], quality=85)
"""


def phone_media(folder: Path) -> list[Path]:
    """The five visuals, in the order a creator would pick them."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg, heic = _photos(folder)
    return [
        _h264(folder / "phone_4k30_landscape.mp4", "3840x2160", 30),
        _hlg_on_its_side(folder / "phone_4k_hevc_hlg_portrait.mov"),
        _h264(folder / "phone_1080p60_portrait.mp4", "1080x1920", 60),
        jpeg,
        heic,
    ]
