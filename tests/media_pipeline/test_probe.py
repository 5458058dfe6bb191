"""probe(): what a file is, how the viewer sees it, and what we refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg
from media_pipeline import probe as probe_module
from media_pipeline.errors import UnsupportedMedia
from media_pipeline.facts import AUDIO, IMAGE, VIDEO
from media_pipeline.probe import probe, probe_audio, probe_visual
from tests.media_factory import make_clip, make_hdr_clip, make_photo, make_song

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("probe")


@pytest.fixture(scope="module")
def landscape(media) -> Path:
    return make_clip(media / "landscape.mp4", seconds=2)


@pytest.fixture(scope="module")
def clip_with_sound(media) -> Path:
    return make_clip(media / "with_sound.mp4", seconds=2, audio=True)


def _ffmpeg(*args: str) -> None:
    ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-y", *args], timeout=60)


# --- what it reads ---------------------------------------------------------------------------


def test_it_reads_a_landscape_clip_as_video(landscape):
    info = probe(str(landscape))
    assert info.kind == VIDEO
    assert (info.width, info.height, info.rotation) == (320, 180, 0)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.codec == "h264"
    assert not info.has_audio


def test_it_notices_a_clip_has_sound(clip_with_sound):
    info = probe(str(clip_with_sound))
    assert info.kind == VIDEO
    assert info.has_audio


@pytest.mark.parametrize(
    ("rotate_tag", "clockwise"),
    # A phone's portrait clip is stored with a display matrix of -90 degrees (counter-clockwise):
    # ffmpeg 5.1 writes that for rotate=270, and a +90 matrix for rotate=90.
    [(270, 90), (90, 270)],
)
def test_it_reads_a_rotated_phone_clip_as_portrait(media, rotate_tag, clockwise):
    clip = make_clip(media / f"rotated_{rotate_tag}.mp4", seconds=1, rotate=rotate_tag)
    info = probe(str(clip))
    assert (info.width, info.height) == (180, 320)
    assert info.rotation == clockwise


def test_its_rotation_is_the_turn_ffmpeg_applies_when_decoding(media):
    clip = make_clip(media / "rotated_check.mp4", seconds=1, rotate=270)
    info = probe(str(clip))
    autorotated = _first_frame(clip, media / "auto.gray")
    turned = np.rot90(_first_frame(clip, media / "raw.gray", autorotate=False), k=-info.rotation // 90)
    assert autorotated.shape == (info.height, info.width)
    assert np.abs(autorotated.astype(int) - turned.astype(int)).mean() < 1.0


def _first_frame(clip: Path, out: Path, *, autorotate: bool = True) -> np.ndarray:
    """The first frame as a grey (rows, columns) array."""
    rotate = [] if autorotate else ["-noautorotate"]
    _ffmpeg(*rotate, "-i", str(clip), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", str(out))
    width, height = (180, 320) if autorotate else (320, 180)
    return np.fromfile(out, dtype=np.uint8).reshape(height, width)


def test_it_makes_non_square_pixels_square(media):
    clip = make_clip(media / "anamorphic.mp4", seconds=1, sar="2/3")
    info = probe(str(clip))
    assert info.sample_aspect == pytest.approx(2 / 3)
    assert info.width == 214  # 320 * 2/3 = 213.3, rounded to even
    assert info.height == 180


@pytest.mark.parametrize("ext", ["jpg", "png", "webp"])
def test_it_reads_a_photo_as_a_still_image(media, ext):
    photo = make_photo(media / f"photo.{ext}", width=320, height=180)
    info = probe(str(photo))
    assert info.kind == IMAGE
    assert info.is_still
    assert (info.width, info.height) == (320, 180)
    assert info.duration == 0.0
    assert info.fps == 0.0


def test_it_reads_a_one_frame_gif_as_a_still_image(media):
    info = probe(str(make_photo(media / "still.gif", width=64, height=48)))
    assert info.kind == IMAGE
    assert (info.width, info.height) == (64, 48)


@pytest.mark.parametrize(("ext", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3"), ("m4a", "aac"), ("ogg", "vorbis")])
def test_it_reads_a_song(media, ext, codec):
    song = make_song(media / f"song.{ext}", seconds=2)
    info = probe(str(song))
    assert info.kind == AUDIO
    assert info.codec == codec
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.has_audio


@pytest.mark.parametrize("ext", ["mp3", "m4a"])
def test_a_song_with_cover_art_is_still_a_song(media, ext):
    song = make_song(media / f"bare.{ext}", seconds=2)
    cover = make_photo(media / "cover.jpg", width=64, height=64)
    with_art = media / f"with_art.{ext}"
    _ffmpeg("-i", str(song), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
            "-disposition:v", "attached_pic", str(with_art))
    info = probe(str(with_art))
    assert info.kind == AUDIO
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_a_clip_with_sound_can_be_the_song(clip_with_sound):
    info = probe_audio(str(clip_with_sound))
    assert info.kind == AUDIO
    assert info.codec == "aac"
    assert info.duration == pytest.approx(2.0, abs=0.05)


def test_probe_visual_accepts_clips_and_photos(landscape, media):
    assert probe_visual(str(landscape)).kind == VIDEO
    assert probe_visual(str(make_photo(media / "visual.png", width=64, height=64))).kind == IMAGE


def test_probe_visual_refuses_a_song(media):
    with pytest.raises(UnsupportedMedia, match="sound file"):
        probe_visual(str(make_song(media / "not_visual.wav", seconds=2)))


@pytest.mark.parametrize("kind", ["silent clip", "photo"])
def test_probe_audio_refuses_files_without_sound(media, kind):
    path = make_clip(media / "silent.mp4", seconds=1) if kind == "silent clip" else make_photo(media / "mute.png")
    with pytest.raises(UnsupportedMedia, match="no sound"):
        probe_audio(str(path))


# --- what it refuses -------------------------------------------------------------------------


def test_it_refuses_a_text_file_named_mp4(media):
    fake = media / "notes.mp4"
    fake.write_text("this is not a video, just some notes\n" * 20)
    with pytest.raises(UnsupportedMedia):
        probe(str(fake))


def test_it_refuses_an_hls_playlist_named_mp4(media, landscape):
    playlist = media / "playlist.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n{landscape.name}\n#EXT-X-ENDLIST\n")
    with pytest.raises(UnsupportedMedia):
        probe(str(playlist))


def test_it_refuses_an_ffconcat_script_named_mov(media, landscape):
    script = media / "script.mov"
    script.write_text(f"ffconcat version 1.0\nfile '{landscape.name}'\n")
    with pytest.raises(UnsupportedMedia):
        probe(str(script))


def test_it_refuses_an_empty_file(media):
    empty = media / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedMedia, match="empty"):
        probe(str(empty))


def test_it_refuses_a_clip_cut_short(media, landscape):
    cut = media / "cut.mp4"
    cut.write_bytes(landscape.read_bytes()[: landscape.stat().st_size // 2])
    with pytest.raises(UnsupportedMedia):
        probe(str(cut))


def test_it_refuses_a_fast_start_clip_cut_short(media):
    # With the index at the front, ffprobe still reports the full length: only the byte count gives it away.
    whole = media / "faststart_source.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=3", "-c:v", "libx264", "-preset", "ultrafast",
            "-movflags", "+faststart", str(whole))
    cut = media / "faststart_cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(UnsupportedMedia, match="incomplete"):
        probe(str(cut))


def test_it_refuses_a_photo_cut_short(media):
    photo = make_photo(media / "whole.jpg", width=320, height=180)
    cut = media / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(UnsupportedMedia):
        probe(str(cut))


def test_it_refuses_a_clip_longer_than_ten_minutes(media):
    # 16x16 at one frame per second keeps this 601 s clip tiny and quick to make.
    long_clip = make_clip(media / "long.mp4", width=16, height=16, fps=1, seconds=601)
    with pytest.raises(UnsupportedMedia, match="10 minutes"):
        probe(str(long_clip))


def test_it_refuses_more_than_240_frames_per_second(media):
    with pytest.raises(UnsupportedMedia, match="240 frames per second"):
        probe(str(make_clip(media / "fast.mp4", fps=250, seconds=0.2)))


@pytest.mark.parametrize(("width", "height", "message"), [(8200, 16, "at most 8192"), (15, 15, "at least 16")])
def test_it_refuses_pictures_too_big_or_too_small(media, width, height, message):
    with pytest.raises(UnsupportedMedia, match=message):
        probe(str(make_photo(media / f"size_{width}x{height}.png", width=width, height=height)))


def test_it_refuses_a_file_with_more_than_eight_streams(media):
    many = media / "many_tracks.mkv"
    inputs = [arg for _ in range(9) for arg in ("-f", "lavfi", "-t", "0.5", "-i", "sine")]
    maps = [arg for i in range(9) for arg in ("-map", str(i))]
    _ffmpeg(*inputs, *maps, "-c:a", "pcm_s16le", str(many))
    with pytest.raises(UnsupportedMedia, match="more than 8 tracks"):
        probe(str(many))


def test_it_reads_a_phone_photo_stored_on_its_side_as_portrait(tmp_path):
    from PIL import Image

    from media_pipeline.probe import probe

    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display", as phones write portrait shots
    Image.new("RGB", (400, 300), "orange").save(path, exif=exif)
    info = probe(str(path))
    assert (info.width, info.height, info.rotation) == (300, 400, 90)


# --- high dynamic range ----------------------------------------------------------------------


@pytest.mark.parametrize(("transfer", "kind"), [("smpte2084", "pq"), ("arib-std-b67", "hlg")])
def test_it_notices_an_hdr_clip_and_which_curve_it_uses(media, transfer, kind):
    info = probe(str(make_hdr_clip(media / f"hdr_{kind}.mp4", transfer=transfer)))
    assert info.kind == VIDEO
    assert info.hdr == kind


def test_an_ordinary_clip_is_not_hdr(landscape):
    assert probe(str(landscape)).hdr == ""


def _with_dolby_vision(monkeypatch, profile: int, compatibility: int) -> None:
    """ffprobe's view of a clip, plus the Dolby Vision record a phone would have written (ffmpeg 5.1 cannot)."""
    read = probe_module._read

    def read_with_record(path: str) -> dict:
        data = read(path)
        for stream in data["streams"]:
            if stream.get("codec_type") == "video":
                stream["side_data_list"] = [{
                    "side_data_type": "DOVI configuration record", "dv_version_major": 1, "dv_version_minor": 0,
                    "dv_profile": profile, "dv_level": 6, "rpu_present_flag": 1, "el_present_flag": 0,
                    "bl_present_flag": 1, "dv_bl_signal_compatibility_id": compatibility,
                }]
        return data

    monkeypatch.setattr(probe_module, "_read", read_with_record)


def test_a_dolby_vision_clip_with_no_standard_picture_inside_is_refused_in_words(landscape, monkeypatch):
    _with_dolby_vision(monkeypatch, profile=5, compatibility=0)
    with pytest.raises(UnsupportedMedia, match="Dolby Vision clip has no standard picture.*HDR10"):
        probe(str(landscape))


def test_a_dolby_vision_clip_with_a_base_layer_is_read_from_that_layer(landscape, monkeypatch):
    _with_dolby_vision(monkeypatch, profile=8, compatibility=4)  # an iPhone's: HLG inside
    assert probe(str(landscape)).kind == VIDEO
