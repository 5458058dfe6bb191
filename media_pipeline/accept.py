"""What uploads are accepted, by probed content (ffprobe's container and codec names), never by extension.

The one home of these rules: the upload check, the stored file's suffix, the editor's hint and its file
picker all read them from here.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UnsupportedMedia
from .facts import IMAGE, MediaInfo
from .heif import heif_to_jpeg, is_heif
from .image_check import check_photo, too_large_photo
from .limits import MIN_CLIP, MIN_SONG
from .probe import probe_audio, probe_visual

VIDEO_CONTAINERS = frozenset({"mov", "mp4", "m4v", "matroska", "webm", "avi"})
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mpeg2video", "mjpeg"})
# Lossless too: creators keep music as FLAC, and Apple's ALAC sits in an M4A.
MUSIC_CONTAINERS = frozenset({"mp3", "wav", "ogg", "aac", "flac", "mov", "mp4", "m4a"})
MUSIC_CODECS = frozenset({"mp3", "aac", "vorbis", "opus", "flac", "alac"})  # and any pcm_* (WAV)
VIDEO_TYPES_TEXT = "MP4, MOV, WebM, MKV or AVI"
MUSIC_TYPES_TEXT = "MP3, WAV, M4A, AAC, OGG or FLAC"

# Stored files keep a known suffix (else a neutral one): it only helps a person reading the folder.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})
VISUAL_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}) | PHOTO_SUFFIXES
MUSIC_SUFFIXES = frozenset({".mp3", ".wav", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac"})
# What the browser's file pickers offer: phones list their library by media type, desktops filter by suffix.
# (The editor's script also tells photos from clips by PHOTO_SUFFIXES.)
VISUAL_PICKER = "video/*,image/jpeg,image/png,image/webp,image/heic,image/heif," + ",".join(sorted(VISUAL_SUFFIXES))
MUSIC_PICKER = "audio/mpeg,audio/wav,audio/x-wav,audio/mp4,audio/aac,audio/ogg,audio/flac," + ",".join(
    sorted(MUSIC_SUFFIXES)
)


def readable_photo(path: Path) -> Path:
    """The stored file, or for a HEIF photo (an iPhone's HEIC) a JPEG made from it in its place."""
    if not is_heif(path):
        return path
    jpeg = path.with_suffix(".jpg")
    heif_to_jpeg(path, jpeg)  # on failure the caller discards the job's folder, both files with it
    path.unlink()
    return jpeg


def check_visual(path: Path) -> MediaInfo:
    """Probe a clip or photo and hold it to the allow-lists; UnsupportedMedia says what is wrong."""
    try:
        info = probe_visual(str(path))  # ffprobe with a container allow-list
    except UnsupportedMedia:
        too_large = too_large_photo(path)  # ffprobe calls a picture past the pixel limit damaged
        if too_large:
            raise UnsupportedMedia(too_large) from None
        raise
    if info.kind == IMAGE:
        check_photo(path)  # Pillow, JPEG/PNG/WebP only, within its pixel limit
        return info
    if not _containers(info.format_name) & VIDEO_CONTAINERS:
        raise UnsupportedMedia(f"videos must be {VIDEO_TYPES_TEXT}")
    if info.codec not in VIDEO_CODECS:
        raise UnsupportedMedia(f"the video is encoded as {info.codec or 'an unknown codec'}, which we cannot use")
    if info.duration < MIN_CLIP:
        raise UnsupportedMedia(f"the clip is only {info.duration:.2f} s long; clips need at least {MIN_CLIP:g} s")
    return info


def check_music(path: Path) -> MediaInfo:
    """Probe a song and hold it to the allow-list (MUSIC_TYPES_TEXT); UnsupportedMedia says what is wrong."""
    info = probe_audio(str(path))  # ffprobe with a container allow-list
    codec_ok = info.codec in MUSIC_CODECS or info.codec.startswith("pcm_")
    if not (_containers(info.format_name) & MUSIC_CONTAINERS and codec_ok):
        raise UnsupportedMedia(f"music must be {MUSIC_TYPES_TEXT}")
    if info.duration < MIN_SONG:
        raise UnsupportedMedia(f"the song is only {info.duration:.1f} s long; songs need at least {MIN_SONG:g} s")
    return info


def _containers(format_name: str) -> set[str]:
    return {name.strip() for name in format_name.split(",") if name.strip()}
