"""A render worker's Python stays small: the heavy libraries run in processes of their own.

The worker's own memory counts against a job's budget beside ffmpeg for the whole render
(benchmarks/README.md, "Phone footage"), so what it imports is checked after a real job's steps,
started as `manage.py qcluster` and `manage.py render_job` start: the web's API (ninja, pydantic)
and the callbacks' HTTP client (urllib3) stay out too.
"""

import os
import subprocess
import sys
from pathlib import Path

from media_pipeline import ffmpeg
from tests.media_factory import make_clip, make_photo, make_song

ROOT = Path(__file__).resolve().parents[2]

WHOLE_JOB = """
import sys, django
django.setup()
from django.core.management import load_command_class
for name in ("qcluster", "render_job"):  # as Django starts a command: its system checks, if it asks for them
    command = load_command_class("jobs", name)
    if command.requires_system_checks:
        command.check()
import jobs.worker, jobs.tasks
from media_pipeline.pipeline import plan_job
from media_pipeline.render import render
from pathlib import Path
from media_pipeline.poster import make_poster, poster_time
clip, photo, song, folder = sys.argv[1:5]
plan = plan_job([clip, photo], song, "ENERGETIC_DANCE", duration=5.0, cache_dir=folder + "/cache", size=(180, 320))
result = render(plan, folder + "/out.mp4")
make_poster(Path(result.path), poster_time(plan), Path(folder) / "poster.jpg")
heavy = {"scipy", "cv2", "librosa", "numba", "boto3", "botocore", "ninja", "pydantic", "urllib3"}
print(" ".join(sorted({name.split(".")[0] for name in sys.modules} & heavy)) or "none")
"""


def test_a_render_worker_never_loads_scipy_opencv_librosa_boto3_or_the_web_api(tmp_path):
    if not ffmpeg.available():
        import pytest

        pytest.skip("needs ffmpeg and ffprobe")
    clip = make_clip(tmp_path / "clip.mp4", seconds=3)
    photo = make_photo(tmp_path / "photo.jpg")
    song = make_song(tmp_path / "song.wav", seconds=8)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", WHOLE_JOB, str(clip), str(photo), str(song), str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "none"
