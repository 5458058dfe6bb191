"""Probing: what an uploaded file is (video, photo or song), its display size, and whether we accept it."""

from __future__ import annotations

import os
from fractions import Fraction

from . import ffmpeg
from .errors import RenderFailed, UnsupportedMedia
from .facts import AUDIO, IMAGE, VIDEO, MediaInfo
from .hdr import hdr_kind

MAX_VIDEO_SECONDS = 10 * 60
MAX_SONG_SECONDS = 20 * 60  # analysis holds the whole song in memory
MAX_SIDE = 8192
MIN_SIDE = 16
MAX_FPS = 240.0
MAX_STREAMS = 8
PROBE_TIMEOUT = 30.0

ALLOWED_FORMATS = frozenset(ffmpeg.ALL_FORMATS.split(","))
# Demuxers that read exactly one picture; gif is a still only when it has one frame.
STILL_DEMUXERS = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "heif"})

# Decoders we let near user files: the common camera, phone and web codecs. Obscure
# decoders are where most of ffmpeg's security bugs live.
VIDEO_CODECS = frozenset({
    "h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "prores",
    "dnxhd", "h263", "theora", "flv1", "msmpeg4v2", "msmpeg4v3", "vc1", "png", "webp", "bmp", "tiff", "gif",
})
AUDIO_CODECS = frozenset({
    "aac", "mp3", "mp2", "vorbis", "opus", "flac", "alac", "ac3", "eac3", "amr_nb", "amr_wb",
})
AUDIO_CODEC_PREFIXES = ("pcm_",)

# A moov-indexed file whose bytes fall this far short of what its index promises was cut off.
_MIN_PAYLOAD_FRACTION = 0.9

_EXIF_ORIENTATION = 0x0112
_ORIENTATION_TURNS = {3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}

_NOT_MEDIA = "the file is not a video, photo or song we can read"


def probe(path: str) -> MediaInfo:
    """Read a video, photo or song and return its facts; UnsupportedMedia when we cannot use it."""
    data = _read(path)
    visual = _main_stream(data, "video")
    if visual is not None:
        if _is_still(data, visual):
            return _image_info(path, data, visual)
        return _video_info(path, data, visual)
    if _main_stream(data, "audio") is not None:
        return _audio_info(path, data)
    raise UnsupportedMedia("the file has no picture or sound in it")


def probe_visual(path: str) -> MediaInfo:
    """Probe a file that must be a video clip or a photo."""
    info = probe(path)
    if info.kind == AUDIO:
        raise UnsupportedMedia("this is a sound file; add it as the song, not as a clip or photo")
    return info


def probe_audio(path: str) -> MediaInfo:
    """Probe a file to use as the song: any file with sound, including a video's soundtrack (kind AUDIO)."""
    data = _read(path)
    if _main_stream(data, "audio") is None:
        raise UnsupportedMedia("this file has no sound to use as the song")
    return _audio_info(path, data)


def _read(path: str) -> dict:
    """ffprobe's view of the file, after the checks that apply to every kind."""
    if os.path.getsize(path) == 0:
        raise UnsupportedMedia("the file is empty; try uploading it again")
    data = ffmpeg.ffprobe_json(path, timeout=PROBE_TIMEOUT)
    if not _format_names(data) & ALLOWED_FORMATS:
        raise UnsupportedMedia(_NOT_MEDIA)
    streams = data.get("streams") or []
    if len(streams) > MAX_STREAMS or _int(data["format"].get("nb_streams")) > MAX_STREAMS:
        raise UnsupportedMedia(
            f"the file has more than {MAX_STREAMS} tracks; export it with one video and one sound track"
        )
    _check_not_cut_short(path, data)
    return data


def _main_stream(data: dict, codec_type: str) -> dict | None:
    """The first real stream of that type; cover art in songs (attached_pic) is not a picture."""
    for stream in data.get("streams") or []:
        disposition = stream.get("disposition") or {}
        if stream.get("codec_type") != codec_type:
            continue
        if disposition.get("attached_pic") or disposition.get("timed_thumbnails"):
            continue
        return stream
    return None


def _format_names(data: dict) -> set[str]:
    """The demuxer's names: ffprobe lists aliases, e.g. 'mov,mp4,m4a,3gp,3g2,mj2'."""
    return set(str((data.get("format") or {}).get("format_name", "")).split(","))


def _is_still(data: dict, stream: dict) -> bool:
    names = _format_names(data)
    if names & STILL_DEMUXERS:
        return True
    return "gif" in names and _int(stream.get("nb_frames"), default=1) <= 1


def _image_info(path: str, data: dict, stream: dict) -> MediaInfo:
    codec = _video_codec(stream)
    width, height, rotation, sar = _display_geometry(stream)
    _check_decodes(path, stream, strict=True)
    # ffmpeg 5.1 ignores EXIF orientation: a phone's portrait photo is stored on its side.
    rotation = _exif_rotation(path)
    if rotation in (90, 270):
        width, height = height, width
    return MediaInfo(
        path=path, kind=IMAGE, duration=0.0, width=width, height=height, codec=codec,
        format_name=data["format"].get("format_name", ""), rotation=rotation, sample_aspect=sar,
    )


def _exif_rotation(path: str) -> int:
    """Clockwise turn the photo's EXIF orientation asks for (mirrored variants read as their turn)."""
    from PIL import Image

    try:
        with Image.open(path, formats=("JPEG", "PNG", "WEBP", "TIFF")) as image:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # no EXIF, or a format Pillow does not read: ffmpeg's reading stands
        return 0
    return _ORIENTATION_TURNS.get(orientation, 0)


def _video_info(path: str, data: dict, stream: dict) -> MediaInfo:
    codec = _video_codec(stream)
    width, height, rotation, sar = _display_geometry(stream)
    duration = _duration(data, stream)
    if duration <= 0:
        raise UnsupportedMedia("we could not tell how long this clip is; try exporting it again as MP4")
    if duration > MAX_VIDEO_SECONDS:
        raise UnsupportedMedia(f"clips can be at most {MAX_VIDEO_SECONDS // 60} minutes long; trim this one first")
    fps = _frame_rate(stream)
    if fps <= 0:
        raise UnsupportedMedia("we could not tell this clip's frame rate; try exporting it again as MP4")
    if fps > MAX_FPS:
        raise UnsupportedMedia(f"clips above {MAX_FPS:.0f} frames per second are not supported")
    if _dolby_vision_only(stream):
        raise UnsupportedMedia(
            "this Dolby Vision clip has no standard picture inside it, so its colours cannot be shown right; "
            "export it from your phone or editor as HDR10 or as standard (SDR) video"
        )
    _check_decodes(path, stream, strict=False)
    return MediaInfo(
        path=path, kind=VIDEO, duration=duration, width=width, height=height, fps=fps,
        has_audio=_usable_audio(data) is not None, codec=codec,
        format_name=data["format"].get("format_name", ""), rotation=rotation, sample_aspect=sar,
        hdr=hdr_kind(str(stream.get("color_transfer", ""))),
    )


def _dolby_vision_only(stream: dict) -> bool:
    """True for Dolby Vision whose base layer is no standard picture (profile 5: IPT colours, only a DV player shows).

    Profiles 8.1, 8.2 and 8.4 carry an HDR10, SDR or HLG base layer, which is what we render.
    """
    for side_data in stream.get("side_data_list") or []:
        if side_data.get("side_data_type") == "DOVI configuration record":
            return _int(side_data.get("dv_bl_signal_compatibility_id"), default=-1) == 0
    return False


def _audio_info(path: str, data: dict) -> MediaInfo:
    stream = _usable_audio(data)
    if stream is None:
        codec = (_main_stream(data, "audio") or {}).get("codec_name", "unknown")
        raise UnsupportedMedia(f"the sound is in a format we can't play ({codec}); try MP3, M4A, WAV or OGG")
    duration = _duration(data, stream)
    if duration <= 0:
        raise UnsupportedMedia("we could not tell how long this song is; try exporting it again as MP3 or WAV")
    if duration > MAX_SONG_SECONDS:
        raise UnsupportedMedia(f"songs can be at most {MAX_SONG_SECONDS // 60} minutes long")
    _check_decodes(path, stream, strict=False)
    return MediaInfo(
        path=path, kind=AUDIO, duration=duration, has_audio=True, codec=stream.get("codec_name", ""),
        format_name=data["format"].get("format_name", ""),
    )


def _usable_audio(data: dict) -> dict | None:
    stream = _main_stream(data, "audio")
    if stream is None:
        return None
    codec = str(stream.get("codec_name", ""))
    if codec in AUDIO_CODECS or codec.startswith(AUDIO_CODEC_PREFIXES):
        return stream
    return None


def _video_codec(stream: dict) -> str:
    codec = str(stream.get("codec_name", ""))
    if codec not in VIDEO_CODECS:
        raise UnsupportedMedia(
            f"the picture is in a format we can't read ({codec or 'unknown'}); try MP4 (H.264), JPEG or PNG"
        )
    return codec


def _display_geometry(stream: dict) -> tuple[int, int, int, float]:
    """(width, height, rotation, sample aspect) as the viewer sees the picture."""
    stored_w, stored_h = _int(stream.get("width")), _int(stream.get("height"))
    if min(stored_w, stored_h) <= 0:
        raise UnsupportedMedia("the file is damaged: the picture has no size")
    sar = _sample_aspect(stream)
    width = stored_w if sar == 1.0 else 2 * round(stored_w * sar / 2)
    height = stored_h
    rotation = _rotation(stream)
    if rotation in (90, 270):
        width, height = height, width
    sides = (stored_w, stored_h, width, height)
    size = f"this one is {stored_w}x{stored_h}"
    if max(sides) > MAX_SIDE:
        raise UnsupportedMedia(f"pictures can be at most {MAX_SIDE} pixels on a side; {size}")
    if min(sides) < MIN_SIDE:
        raise UnsupportedMedia(f"pictures must be at least {MIN_SIDE} pixels on a side; {size}")
    return width, height, rotation, sar


def _sample_aspect(stream: dict) -> float:
    ratio = _fraction(stream.get("sample_aspect_ratio"), sep=":")
    return float(ratio) if ratio > 0 else 1.0


def _rotation(stream: dict) -> int:
    """Clockwise display rotation, one of 0, 90, 180, 270."""
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            # ffprobe reports the display matrix's angle counter-clockwise.
            return _quarter_turns(-float(side_data["rotation"]))
    rotate = (stream.get("tags") or {}).get("rotate")
    try:
        return _quarter_turns(float(rotate)) if rotate is not None else 0
    except ValueError:
        return 0


def _quarter_turns(degrees: float) -> int:
    return int(round(degrees / 90.0)) % 4 * 90


def _frame_rate(stream: dict) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        rate = _fraction(stream.get(key))
        if rate > 0:
            return float(rate)
    return 0.0


def _duration(data: dict, stream: dict) -> float:
    """The main stream's duration (the picture may end before the sound), else the container's."""
    for value in (stream.get("duration"), data["format"].get("duration")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            return seconds
    return 0.0


def _check_not_cut_short(path: str, data: dict) -> None:
    """A fast-start MP4 cut short still probes with its full length; its index says how many bytes to expect."""
    if "mov" not in _format_names(data):
        return
    expected = 0.0
    for stream in data.get("streams") or []:
        try:
            expected += float(stream["bit_rate"]) * float(stream["duration"]) / 8
        except (KeyError, TypeError, ValueError):
            continue
    if expected > 0 and os.path.getsize(path) < _MIN_PAYLOAD_FRACTION * expected:
        raise UnsupportedMedia("the file is incomplete (the upload may have been cut short); try again")


def _check_decodes(path: str, stream: dict, *, strict: bool) -> None:
    """Decode the first frame of the stream: proves a decoder reads it. strict (photos) fails on any damage."""
    index = _int(stream.get("index"))
    args = [ffmpeg.FFMPEG, "-v", "error", "-xerror"]
    if strict:
        args += ["-err_detect", "explode"]  # a truncated JPEG otherwise decodes with a grey band
    args += [*ffmpeg.safe_input_args(), "-i", path, "-map", f"0:{index}", "-frames", "1", "-f", "null", "-"]
    try:
        ffmpeg.run(args, timeout=PROBE_TIMEOUT)
    except RenderFailed as exc:  # includes RenderTimeout
        raise UnsupportedMedia("the file is damaged or incomplete; we could not decode it") from exc


def _fraction(value: object, *, sep: str = "/") -> Fraction:
    """'30000/1001' or '2:3' as a Fraction; 0 when missing or malformed ('0/0', 'N/A')."""
    num, _, den = str(value or "").partition(sep)
    try:
        return Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return Fraction(0)


def _int(value: object, *, default: int = 0) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
