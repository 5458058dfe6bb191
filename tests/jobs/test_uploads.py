"""Receiving a job's files: stored by content under generated names, and nothing left behind when refused."""

import subprocess
from pathlib import Path

import pytest

from jobs import services, uploads
from jobs.models import Job
from tests.media_factory import make_clip, make_heic, make_photo, make_song

S = Job.Status


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("upload-samples")
    files = {
        "clip": make_clip(folder / "beach day.mp4", seconds=1.0),
        "photo": make_photo(folder / "sunset.jpg"),
        "song": make_song(folder / "song.mp3", seconds=4.0),
        "flac": make_song(folder / "song.flac", seconds=4.0),
        "gif": make_photo(folder / "sticker.gif", width=64, height=64),
    }
    (folder / "notes.mp4").write_text("this is not a video\n" * 50)
    (folder / "playlist.mp4").write_text("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n")
    broken = folder / "broken.jpg"
    broken.write_bytes(files["photo"].read_bytes()[:2000])
    files["alac"] = folder / "song-alac.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(files["song"]), "-c:a", "alac", str(files["alac"])], check=True)
    files["heic"] = make_heic(folder / "IMG_0042.HEIC", width=640, height=480)
    broken_heic = folder / "IMG_0043.HEIC"
    broken_heic.write_bytes(files["heic"].read_bytes()[:600])
    files.update(text=folder / "notes.mp4", hls=folder / "playlist.mp4", broken=broken, broken_heic=broken_heic)
    return files


@pytest.fixture
def send(client, samples):
    """POST /api/upload with files named from `samples`; returns the response."""

    def post(videos=("clip",), music="song", **fields):
        data = {"style": "CLEAN_VLOG", **fields}
        handles = []
        try:
            if videos:
                data["videos"] = [open(samples[name], "rb") for name in videos]
                handles += data["videos"]
            if music:
                data["music"] = open(samples[music], "rb")
                handles.append(data["music"])
            return client.post("/api/upload", data)
        finally:
            for handle in handles:
                handle.close()

    return post


def stored_files(media_root: Path) -> list[str]:
    return sorted(str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file())


def accepted(response) -> Job:
    assert response.status_code == 200, response.content
    return Job.objects.get(id=response.json()["job_id"])


def test_a_clip_a_photo_and_a_song_are_stored_under_generated_names(send, media_root, db):
    job = accepted(send(videos=("clip", "photo")))
    assert stored_files(media_root) == [
        f"jobs/{job.id}/music.mp3", f"jobs/{job.id}/visual-1.mp4", f"jobs/{job.id}/visual-2.jpg",
    ]
    assert [(v.original_name, v.file_type) for v in job.visuals.all()] == [("beach day.mp4", "video"), ("sunset.jpg", "image")]
    assert job.audio.original_name == "song.mp3"
    assert job.visuals.get(order=0).file_size == Path(media_root / f"jobs/{job.id}/visual-1.mp4").stat().st_size


@pytest.mark.parametrize(("music", "stored"), [("flac", "music.flac"), ("alac", "music.m4a")])
def test_a_lossless_song_in_flac_or_apple_lossless_is_accepted(send, media_root, db, samples, music, stored):
    job = accepted(send(music=music))
    assert f"jobs/{job.id}/{stored}" in stored_files(media_root)
    assert job.audio.original_name == samples[music].name


def test_an_iphone_heic_photo_is_kept_as_a_jpeg_of_the_same_picture(send, media_root, db):
    job = accepted(send(videos=("heic",)))
    assert stored_files(media_root) == [f"jobs/{job.id}/music.mp3", f"jobs/{job.id}/visual-1.jpg"]
    photo = job.visuals.get()
    assert (photo.original_name, photo.file_type, photo.width, photo.height) == ("IMG_0042.HEIC", "image", 640, 480)
    assert photo.file.name.endswith("visual-1.jpg")


def test_the_job_is_pending_and_queued_once_its_files_are_in(send, db, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send()
    job = Job.objects.get(id=response.json()["job_id"])
    assert job.status == S.PENDING
    assert enqueued == [("jobs.tasks.render_next",)]


def test_the_job_is_uploading_while_its_files_are_checked(send, db, monkeypatch):
    seen = []
    check = services.check_visual

    def spy(path):
        seen.append(Job.objects.get().status)
        return check(path)

    monkeypatch.setattr(services, "check_visual", spy)
    assert send().status_code == 200
    assert seen == [S.UPLOADING]


def test_uploads_stream_to_temporary_files_in_media_root(send, db, monkeypatch, media_root):
    staged = []

    class Recording(uploads.StagedFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            staged.append(self.temporary_file_path())

    monkeypatch.setattr(uploads, "StagedFile", Recording)
    assert send(videos=("clip", "photo")).status_code == 200
    assert len(staged) == 3
    assert all(Path(path).parent == media_root / "tmp" for path in staged)
    assert list((media_root / "tmp").iterdir()) == []


REJECTIONS = {
    "a text file named .mp4": (dict(videos=("text",)), "videos", "notes.mp4: "),
    "an HLS playlist named .mp4": (dict(videos=("hls",)), "videos", "playlist.mp4: "),
    "a GIF photo": (dict(videos=("gif",)), "videos", "sticker.gif: photos must be JPEG, PNG, WebP or HEIC"),
    "a cut-off JPEG": (dict(videos=("photo", "broken")), "videos", "broken.jpg: "),
    "a cut-off HEIC": (dict(videos=("photo", "broken_heic")), "videos", "IMG_0043.HEIC: the photo is damaged"),
    "a song as a clip": (dict(videos=("song",)), "videos", "song.mp3: this is a sound file"),
    "a photo as the song": (dict(music="photo"), "music", "sunset.jpg: "),
    "six visuals": (dict(videos=("clip",) * 6), "videos", "At most 5 videos or photos per job."),
    "no visuals": (dict(videos=()), "videos", "Add at least one video or photo."),
    "no song": (dict(music=None), "music", "Add a song."),
    "an unknown style": (dict(style="DUBSTEP"), "style", "Unknown style 'DUBSTEP'"),
    "a duration too long": (dict(duration="61"), "duration", "Duration must be a number of seconds from 5 to 60."),
    "a duration that is not a number": (dict(duration="soon"), "duration", "Duration must be a number"),
    "an unknown aspect ratio": (dict(aspect_ratio="3:2"), "aspect_ratio", "Aspect ratio must be one of 9:16"),
}


@pytest.mark.parametrize("kwargs, field, message", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_a_rejected_upload_leaves_no_job_and_no_file_behind(send, db, media_root, kwargs, field, message):
    response = send(**kwargs)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(message)
    assert Job.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_file_over_the_limit_is_refused_before_it_is_stored_whole(send, db, media_root, settings, samples, tmp_path, monkeypatch):
    settings.MAX_UPLOAD_MB = 1
    big = tmp_path / "long take.mp4"
    big.write_bytes(samples["clip"].read_bytes() * 40)  # refused by size, before anyone reads it
    assert big.stat().st_size > 2 * 1024 * 1024
    samples["big"] = big
    written = []

    class Recording(uploads.StagedFile):
        def write(self, data):
            written.append(len(data))
            return self.file.write(data)

    monkeypatch.setattr(uploads, "StagedFile", Recording)
    response = send(videos=("clip", "big"))
    assert response.status_code == 400
    assert response.json() == {"detail": "long take.mp4: larger than 1 MB.", "field": "videos"}
    assert sum(written) <= 2 * 1024 * 1024  # the small clip, and less than the limit of the big one
    assert Job.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_request_larger_than_every_file_allowed_stores_nothing(client, db, media_root, settings, samples, tmp_path, monkeypatch):
    settings.MAX_UPLOAD_MB = 1
    settings.MAX_VISUALS = 1
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    padding = tmp_path / "padding.bin"
    padding.write_bytes(b"\0" * (2 * 1024 * 1024 + 50_000))
    staged = []
    monkeypatch.setattr(uploads, "StagedFile", lambda *args: staged.append(args))
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as song, open(padding, "rb") as pad:
        response = client.post("/api/upload", {"style": "CLEAN_VLOG", "padding": pad, "videos": clip, "music": song})
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert staged == []
    assert stored_files(media_root) == []


def test_a_second_song_is_refused(client, db, media_root, samples):
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as a, open(samples["song"], "rb") as b:
        response = client.post("/api/upload", {"style": "CLEAN_VLOG", "videos": clip, "music": [a, b]})
    assert response.status_code == 400
    assert response.json()["detail"] == "Add only one song."
    assert stored_files(media_root) == []


def test_files_under_other_names_are_ignored(client, db, media_root, samples):
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as song, open(samples["photo"], "rb") as other:
        response = client.post("/api/upload", {"style": "CLEAN_VLOG", "videos": clip, "music": song, "cover": other})
    assert response.status_code == 200
    job_id = response.json()["job_id"]
    assert stored_files(media_root) == [f"jobs/{job_id}/music.mp3", f"jobs/{job_id}/visual-1.mp4"]


def test_a_body_that_is_not_multipart_is_told_it_must_be(client, db):
    response = client.post("/api/upload", "style=CLEAN_VLOG", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The request must be multipart/form-data")


def test_a_photo_past_the_pixel_limit_is_refused(send, db, media_root, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # the sample photo has 307,200
    response = send(videos=("photo",))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("sunset.jpg: the photo is too large")
    assert stored_files(media_root) == []


def test_it_refuses_a_song_too_short_to_cut_to(client, db, tmp_path, media_root):
    from jobs.models import Job
    from tests.media_factory import make_clip, make_song

    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    song = make_song(tmp_path / "jingle.wav", seconds=2)
    with open(clip, "rb") as v, open(song, "rb") as m:
        response = client.post("/api/upload", {"videos": v, "music": m, "style": "CLEAN_VLOG"})
    assert response.status_code == 400
    assert response.json()["detail"] == "jingle.wav: the song is only 2.0 s long; songs need at least 3 s"
    assert Job.objects.count() == 0
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_photo_too_large_for_ffprobe_to_size_is_called_too_large_not_damaged(client, db, media_root, samples, tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A PNG whose header says 20000 x 20000 (400 megapixels): ffprobe cannot size it, Pillow reads the header.
    huge = tmp_path / "poster.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 60001)) + chunk(b"IEND", b""))
    with open(huge, "rb") as photo, open(samples["song"], "rb") as song:
        response = client.post("/api/upload", {"style": "CLEAN_VLOG", "videos": photo, "music": song})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("poster.png: the photo is too large (more than ")
    assert "damaged" not in response.json()["detail"]
    assert stored_files(media_root) == []
