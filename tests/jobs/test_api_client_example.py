"""The README's client example (JSON API, "A client in Python") runs as written against a live server: it
uploads tiny synthetic media, polls until a real render ends, and downloads a playable 5 s MP4."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from media_pipeline import ffmpeg
from tests.browser.conftest import render_worker  # noqa: F401 (a fixture: renders queued jobs in-process)
from tests.media_factory import make_clip, make_song

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_URL = '"http://127.0.0.1:8000"'


def readme_client_example() -> str:
    section = README.read_text().split("### A client in Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_example_is_a_short_script_that_talks_to_a_local_server():
    code = readme_client_example()
    assert EXAMPLE_URL in code and "import requests" in code
    assert len(code.strip().splitlines()) <= 20


@pytest.mark.render
@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")
def test_the_readme_client_example_uploads_waits_and_downloads_a_video(
    live_server, render_worker, media_root, tmp_path, monkeypatch  # noqa: F811
):
    make_clip(tmp_path / "beach.mp4", width=320, height=180, seconds=2.0)
    make_song(tmp_path / "song.mp3", bpm=120, seconds=8.0)
    monkeypatch.chdir(tmp_path)

    exec(readme_client_example().replace(EXAMPLE_URL, repr(live_server.url)), {"__name__": "readme_example"})

    assert render_worker.errors == [] and len(render_worker.rendered) == 1
    probe = subprocess.run(
        [ffmpeg.FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "cutline.mp4"],
        capture_output=True, text=True, check=True,
    )
    facts = json.loads(probe.stdout)
    assert sorted(stream["codec_type"] for stream in facts["streams"]) == ["audio", "video"]
    assert float(facts["format"]["duration"]) == pytest.approx(5.0, abs=0.2)
