"""A creator's whole trip, in a real browser: pick files, send them, watch the render, play and download."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from jobs.models import Job
from tests.media_factory import make_clip, make_photo, make_song

pytestmark = [pytest.mark.browser, pytest.mark.render]

SCREENSHOTS = Path("/tmp")
UPLOAD_BYTES_PER_SECOND = 256 * 1024  # slow enough that the upload bar has something to show


def wait_for(condition, timeout: float, interval: float = 0.25):
    """Poll `condition` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {condition.__name__}")
        time.sleep(interval)


@pytest.fixture
def creator_files(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "camera roll"
    folder.mkdir()
    return {
        "wide": make_clip(folder / "skate park.mp4", width=640, height=360, seconds=3.0, pattern="testsrc"),
        "tall": make_clip(folder / "friends <3.mp4", width=360, height=640, seconds=3.0),
        "photo": make_photo(folder / "not this one.jpg"),
        "song": make_song(folder / "summer anthem.mp3", bpm=124, seconds=14.0),
    }


def test_a_creator_uploads_two_clips_and_a_song_and_gets_a_video_that_plays(
    live_server, media_root, render_worker, phone, creator_files, ffprobe, tmp_path
):
    page = phone
    page.goto(f"{live_server.url}/")
    page.screenshot(path=str(SCREENSHOTS / "cutline-editor-empty.png"), full_page=True)

    # Pick three, then change our mind about the photo.
    page.set_input_files("#id_videos", [str(creator_files[k]) for k in ("wide", "tall", "photo")])
    items = page.locator("#videos-list .file-item")
    assert items.count() == 3
    assert "friends <3.mp4" in items.nth(1).inner_text()
    page.get_by_role("button", name="Remove not this one.jpg").click()
    assert items.count() == 2
    assert [items.nth(i).locator(".file-name").inner_text() for i in range(2)] == ["skate park.mp4", "friends <3.mp4"]
    assert "KB" in items.nth(0).locator(".file-size").inner_text()
    page.set_input_files("#id_music", str(creator_files["song"]))
    assert page.locator("#music-list .file-name").inner_text() == "summer anthem.mp3"

    page.locator(".style-card", has_text="Energetic Dance").click()
    page.eval_on_selector(
        "#id_duration", "el => { el.value = '5'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    assert page.locator("#duration-output").inner_text() == "5 s"
    assert page.locator('input[name="aspect_ratio"]:checked').get_attribute("value") == "9:16"
    page.screenshot(path=str(SCREENSHOTS / "cutline-editor-filled.png"), full_page=True)

    # Send it over a slow link and record what the upload bar shows.
    upload_bar: list[str] = []
    page.expose_function("reportUploadBar", lambda width: upload_bar.append(width))
    page.evaluate("""() => {
        const fill = document.querySelector('#upload-progress .bar span');
        new MutationObserver(() => window.reportUploadBar(fill.style.width))
            .observe(fill, {attributes: true, attributeFilter: ['style']});
    }""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
    })
    page.get_by_role("button", name="Make my video").click()
    # Polled from here: the page's CSP refuses the string evaluation wait_for_function relies on.
    wait_for(lambda: page.evaluate(
        "() => Number(document.querySelector('#upload-progress .bar').getAttribute('aria-valuenow')) > 0"
    ), timeout=30, interval=0.05)
    page.screenshot(path=str(SCREENSHOTS / "cutline-editor-uploading.png"))
    page.wait_for_url(f"{live_server.url}/jobs/*", timeout=60_000)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
    })
    widths = [float(width.rstrip("%")) for width in upload_bar if width]
    assert any(0 < width < 100 for width in widths), f"the upload bar never moved between 0 and 100: {widths}"
    job = Job.objects.get()
    assert page.url == f"{live_server.url}/jobs/{job.id}"
    assert (job.style, job.duration, job.aspect_ratio) == ("ENERGETIC_DANCE", 5.0, "9:16")
    assert [v.original_name for v in job.visuals.all()] == ["skate park.mp4", "friends <3.mp4"]

    # The job page polls its progress fragment until the render ends.
    seen: list[tuple[str, str]] = []
    shot: list[bool] = []

    def video_is_there():
        now = page.evaluate("""() => {
            const status = document.querySelector('#job-status');
            const text = (selector) => { const el = status.querySelector(selector); return el ? el.innerText : null; };
            return {video: Boolean(status.querySelector('video')), failed: status.classList.contains('status-failed'),
                    reason: text('.reason'), step: text('.step'), percent: text('.percent')};
        }""")
        if now["failed"]:
            raise AssertionError(f"the render failed: {now['reason']}\n{''.join(render_worker.errors)}")
        if now["video"]:
            return True
        if now["step"] is not None and now["percent"] is not None:
            seen.append((now["step"], now["percent"]))
            if not shot and 0 < int(now["percent"].rstrip("%")) < 100:
                page.screenshot(path=str(SCREENSHOTS / "cutline-job-progress.png"), full_page=True)
                shot.append(True)
        return False

    wait_for(video_is_there, timeout=300, interval=0.5)
    assert Job.objects.get().status == Job.Status.COMPLETED
    assert render_worker.rendered == [str(job.id)] and render_worker.errors == []
    percents = [int(p.rstrip("%")) for _, p in seen]
    assert any(0 < p < 100 for p in percents), seen
    assert percents == sorted(percents), "progress never goes backwards"
    assert len({step for step, _ in seen}) >= 2, seen
    assert page.locator("#job-status").get_attribute("hx-trigger") is None

    # The preview loads, plays and seeks.
    playback = page.evaluate("""async () => {
        const video = document.querySelector('#preview');
        video.muted = true;
        const event = (name) => new Promise((resolve) => video.addEventListener(name, resolve, {once: true}));
        if (video.readyState < 2) await Promise.race([event('loadeddata'), new Promise(r => setTimeout(r, 15000))]);
        const loaded = {readyState: video.readyState, duration: video.duration, width: video.videoWidth, height: video.videoHeight};
        await video.play();
        const before = video.currentTime;
        await new Promise((resolve) => setTimeout(resolve, 1200));
        const playedTo = video.currentTime;
        video.pause();
        const seeked = event('seeked');
        video.currentTime = 3.5;
        await Promise.race([seeked, new Promise(r => setTimeout(r, 10000))]);
        return {...loaded, before, playedTo, seekedTo: video.currentTime, error: video.error && video.error.code};
    }""")
    assert playback["error"] is None, playback
    assert playback["readyState"] >= 2, playback
    assert 4.5 <= playback["duration"] <= 5.5, playback
    assert (playback["width"], playback["height"]) == (1080, 1920), playback
    assert playback["playedTo"] > playback["before"], playback
    assert abs(playback["seekedTo"] - 3.5) < 0.2, playback
    page.screenshot(path=str(SCREENSHOTS / "cutline-job-done.png"), full_page=True)

    # The download button hands over a real MP4 under a tidy name.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download MP4").click()
    download = download_info.value
    assert download.suggested_filename == f"cutline-energetic-dance-{job.id.hex[:8]}.mp4"
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(saved)],
        capture_output=True, text=True, check=True,
    )
    info = json.loads(probe.stdout)
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert 4.5 <= float(info["format"]["duration"]) <= 5.5

    # Try another style from the job page: a square Neon Night cut of the same files, with no upload.
    stored_before = sorted(p.relative_to(media_root) for p in (media_root / "jobs").rglob("*") if p.is_file())
    remix_block = page.locator("#remix")
    remix_block.scroll_into_view_if_needed()
    assert remix_block.locator('input[name="duration"]').input_value() == "5"
    remix_block.locator(".aspect-card", has_text="1:1").click()
    page.screenshot(path=str(SCREENSHOTS / "cutline-job-remix.png"), full_page=True)
    clicked = time.monotonic()
    remix_block.get_by_role("button", name="Neon Night").click()
    page.wait_for_url(lambda url: "/jobs/" in url and str(job.id) not in url)
    remix = Job.objects.get(remixed_from=job)
    assert page.url == f"{live_server.url}/jobs/{remix.id}"
    assert (remix.style, remix.duration, remix.aspect_ratio) == ("NEON_NIGHT", 5.0, "1:1")
    assert remix.seed not in (0, job.seed)
    assert [v.file.name for v in remix.visuals.all()] == [v.file.name for v in job.visuals.all()]
    assert remix.audio.file.name == job.audio.file.name

    def rendering_started():
        return Job.objects.filter(id=remix.id, status=Job.Status.PROCESSING, progress__gte=20).exists() or \
            Job.objects.filter(id=remix.id, status=Job.Status.COMPLETED).exists()

    wait_for(rendering_started, timeout=120, interval=0.1)
    print(f"remix: {time.monotonic() - clicked:.2f} s from the click to rendering")
    wait_for(video_is_there, timeout=300, interval=0.5)
    remix.refresh_from_db()
    assert remix.status == Job.Status.COMPLETED and render_worker.errors == []
    size = page.evaluate("""async () => {
        const video = document.querySelector('#preview');
        if (video.readyState < 1) await new Promise(r => {
            video.addEventListener('loadedmetadata', r, {once: true});
            setTimeout(r, 15000);
        });
        return [video.videoWidth, video.videoHeight];
    }""")
    assert size == [1080, 1080]
    stored_after = sorted(p.relative_to(media_root) for p in (media_root / "jobs").rglob("*") if p.is_file())
    new_files = sorted(set(stored_after) - set(stored_before))
    assert new_files and all(p.parts[1] == str(remix.id) and p.suffix in (".mp4", ".jpg") for p in new_files), \
        f"a remix stores only what it renders, no copy of the clips or song: {new_files}"
    page.screenshot(path=str(SCREENSHOTS / "cutline-job-remixed.png"), full_page=True)
    assert page.locator("#preview").get_attribute("poster") == f"/api/jobs/{remix.id}/poster"

    # Both videos are in the recent-jobs list, each with its poster as a thumbnail.
    page.goto(f"{live_server.url}/jobs/")
    thumbnails = page.locator(".job-thumb img")
    assert thumbnails.count() == 2
    widths = page.evaluate("""async () => Promise.all([...document.querySelectorAll('.job-thumb img')].map(
        (img) => img.complete ? img.naturalWidth : new Promise((r) => {
            img.onload = () => r(img.naturalWidth);
            img.onerror = () => r(0);
        })))""")
    assert widths == [540, 540], widths
    page.screenshot(path=str(SCREENSHOTS / "cutline-job-list.png"), full_page=True)


def test_a_refused_song_is_explained_next_to_it_and_the_picked_files_stay(
    live_server, media_root, phone, creator_files, tmp_path, settings
):
    settings.DEBUG = True  # as under `make run`: django-htmx's debug script must leave form errors alone
    webm = make_song(tmp_path / "demo take.webm", seconds=3.0)  # Opus in WebM: a sound we do not take
    page = phone
    page.goto(f"{live_server.url}/?style=CHILL_LOFI&duration=12&aspect_ratio=1:1")
    assert page.locator('input[name="style"]:checked').get_attribute("value") == "CHILL_LOFI"
    page.set_input_files("#id_videos", [str(creator_files["wide"])])
    page.set_input_files("#id_music", str(webm))
    page.get_by_role("button", name="Make my video").click()

    error = page.locator("#error-music")
    error.get_by_text("demo take.webm: music must be MP3, WAV, M4A, AAC, OGG or FLAC").wait_for()
    assert page.locator("#form-status").inner_text().startswith("Almost there")
    assert page.locator("#videos-list .file-name").all_inner_texts() == ["skate park.mp4"]
    assert page.get_by_role("button", name="Make my video").is_enabled()
    assert page.locator("#duration-output").inner_text() == "12 s"
    assert Job.objects.count() == 0
    page.wait_for_timeout(600)  # the page scrolls the problem into view
    page.screenshot(path=str(SCREENSHOTS / "cutline-editor-error.png"))

    # Swap the song for one we take: the same page, files and settings go through.
    page.set_input_files("#id_music", str(creator_files["song"]))
    assert page.locator("#music-list .file-name").all_inner_texts() == ["summer anthem.mp3"]
    page.get_by_role("button", name="Make my video").click()
    page.wait_for_url(f"{live_server.url}/jobs/*")
    job = Job.objects.get()
    assert (job.style, job.duration, job.aspect_ratio) == ("CHILL_LOFI", 12.0, "1:1")


def made_by(page, live_server, job: Job) -> None:
    """Make the page's browser the job's maker: a session holding an owner key, the key's hash on the job."""
    import hashlib

    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    from jobs.ownership import SESSION_KEY

    session = SessionStore()
    session[SESSION_KEY] = "the-key-of-the-browser-that-made-it"
    session.create()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": live_server.url}])
    Job.objects.filter(id=job.id).update(owner_key=hashlib.sha256(session[SESSION_KEY].encode()).hexdigest())


def test_a_failed_job_can_be_tried_again_from_its_page(live_server, media_root, phone):
    job = Job.objects.create(
        style="VINTAGE_FILM", duration=20, aspect_ratio="4:5", status=Job.Status.FAILED, attempts=1,
        error_message="friends.mp4 ends early: the file looks truncated. Export it again and retry.",
    )
    page = phone
    made_by(page, live_server, job)  # only the job's maker is offered "Try again"
    page.goto(f"{live_server.url}/jobs/{job.id}")
    assert "ends early" in page.locator(".reason").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "cutline-job-failed.png"), full_page=True)
    assert page.get_by_role("link", name="Change files or settings").get_attribute("href") == (
        "/?style=VINTAGE_FILM&duration=20&aspect_ratio=4%3A5"
    )
    page.get_by_role("button", name="Try again").click()
    page.get_by_text("Your video is queued again.").wait_for()
    assert Job.objects.get(id=job.id).status == Job.Status.PENDING
    assert page.locator("#job-status").get_attribute("hx-trigger") == "every 2s"


def test_files_dropped_on_the_form_land_where_they_belong(live_server, media_root, phone):
    page = phone
    page.goto(f"{live_server.url}/")
    page.evaluate("""() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(2048)], "beat.mp3", {type: "audio/mpeg"}));
        transfer.items.add(new File([new Uint8Array(4096)], "holiday.jpg", {type: "image/jpeg"}));
        transfer.items.add(new File([new Uint8Array(8192)], "jump.mov", {type: "video/quicktime"}));
        const zone = document.querySelector('[data-drop="music"] .dropzone');
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
        }
    }""")
    assert page.locator("#videos-list .file-name").all_inner_texts() == ["holiday.jpg", "jump.mov"]
    assert page.locator("#music-list .file-name").all_inner_texts() == ["beat.mp3"]
    assert page.locator("#videos-list .file-size").all_inner_texts() == ["Photo · 4.0 KB", "Video · 8.0 KB"]
    assert page.evaluate("document.querySelector('#id_videos').files.length") == 2
    assert page.evaluate("document.querySelector('#id_music').files[0].name") == "beat.mp3"
