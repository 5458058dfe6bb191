"""The pages work under their Content-Security-Policy: no violation is reported on the editor (files picked,
previews shown, the upload sent), the job page (its status polled) or the list, and the styles the templates
ask for through data- attributes are applied."""

import time
from pathlib import Path

import pytest

from jobs.models import Job
from jobs.worker import output_name
from tests.media_factory import make_clip, make_photo, make_song

pytestmark = [pytest.mark.browser]

# Runs before any page script (Playwright injects it outside the page's policy): collects every violation.
WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));"""


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    return {
        "clip": make_clip(tmp_path / "clip.mp4", seconds=1.0),
        "photo": make_photo(tmp_path / "photo.jpg"),
        "song": make_song(tmp_path / "song.mp3", seconds=4.0),
    }


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.console_messages = console
    yield page
    context.close()


def violations(page) -> list[str]:
    reported = page.evaluate("() => window.__csp")
    said = [text for text in page.console_messages if "Content Security Policy" in text]
    return reported + said


def wait_until(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {check.__name__}")
        time.sleep(0.2)


def test_the_editor_and_the_upload_work_with_no_policy_violation(live_server, media_root, page, files):
    page.goto(f"{live_server.url}/")
    assert page.evaluate("() => document.documentElement.classList.contains('js')")  # cutline.js ran
    page.set_input_files("#id_videos", [str(files["clip"]), str(files["photo"])])
    page.set_input_files("#id_music", str(files["song"]))
    assert page.locator("#videos-list .file-item").count() == 2
    page.get_by_role("button", name="Make my video").click()
    page.wait_for_url(f"{live_server.url}/jobs/*", timeout=60_000)
    job = Job.objects.get()
    assert job.status == Job.Status.PENDING
    assert violations(page) == []

    # The job page polls its status; the bar's width comes from data-progress through cutline.js.
    Job.objects.filter(id=job.id).update(status=Job.Status.PROCESSING, progress=37, current_step="Rendering")

    def bar_at_37():
        return page.evaluate("() => (document.querySelector('#job-status .bar span') || {style: {}}).style.width") == "37%"

    wait_until(bar_at_37)
    assert violations(page) == []

    page.goto(f"{live_server.url}/jobs/")
    assert page.locator("text=clip.mp4").count() + page.locator("main").count() >= 1
    assert violations(page) == []


def test_a_finished_job_page_shapes_its_preview_with_no_policy_violation(live_server, media_root, page, files):
    job = Job.objects.create(style="CLEAN_VLOG", status=Job.Status.COMPLETED, aspect_ratio="1:1", progress=100)
    target = Path(media_root) / output_name(job)
    target.parent.mkdir(parents=True)
    target.write_bytes(files["clip"].read_bytes())
    Job.objects.filter(id=job.id).update(output_video=output_name(job))
    page.goto(f"{live_server.url}/jobs/{job.id}")
    assert page.evaluate("() => document.querySelector('.preview').style.aspectRatio") == "1 / 1"
    assert violations(page) == []
    page.goto(f"{live_server.url}/jobs/00000000-0000-0000-0000-000000000000")  # the error page too
    assert violations(page) == []
    # And the watch does see one: markup with a style attribute, as the templates used to have.
    page.evaluate("""() => document.body.insertAdjacentHTML('beforeend', '<div style="width: 5%"></div>')""")
    wait_until(lambda: violations(page))


def test_the_admin_works_under_the_policy(live_server, page, settings, django_user_model):
    django_user_model.objects.create_superuser("operator", "op@example.com", "a long enough password 42")
    job = Job.objects.create(style="CLEAN_VLOG", status=Job.Status.FAILED)
    page.goto(f"{live_server.url}/{settings.ADMIN_PATH}login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a long enough password 42")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/{settings.ADMIN_PATH}jobs/job/")
    assert page.locator("#result_list").count() == 1
    page.goto(f"{live_server.url}/{settings.ADMIN_PATH}jobs/job/{job.id}/change/")
    assert violations(page) == []
