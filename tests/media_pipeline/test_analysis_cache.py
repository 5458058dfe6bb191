"""analysis_cache: a visual's look kept by its content and the code's version, not by its name."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import analysis_cache, cache_files
from media_pipeline.analysis_cache import cached_looks, cached_probe, content_hash
from media_pipeline.errors import UnsupportedMedia
from media_pipeline.facts import VIDEO, MediaInfo
from media_pipeline.look import Look, Sample


def info(path: Path) -> MediaInfo:
    return MediaInfo(str(path), VIDEO, 4.0, 64, 36, 30.0, False, "h264", "mov,mp4,m4a")


def a_look(time: float) -> Look:
    return Look((Sample(time, np.full((9, 16), 1 / 144)),), cuts=(1.5,))


def same(a: Look, b: Look) -> bool:
    return a.cuts == b.cuts and len(a.samples) == len(b.samples) and all(
        x.time == y.time and np.array_equal(x.weights, y.weights) for x, y in zip(a.samples, b.samples)
    )


class Surveyor:
    """A stand-in for look.survey that counts the visuals it was asked to look at."""

    def __init__(self, looks=None):
        self.asked: list[str] = []
        self.looks = looks

    def __call__(self, visuals):
        self.asked += [Path(v.path).name for v in visuals]
        return tuple(self.looks.pop(0) if self.looks else a_look(float(len(self.asked))) for _ in visuals)


def test_the_same_bytes_under_another_name_are_not_looked_at_again(tmp_path):
    first, copy, other = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    first.write_bytes(b"clip one")
    copy.write_bytes(b"clip one")
    other.write_bytes(b"clip two")
    survey = Surveyor()
    looks = cached_looks([info(first)], survey, cache_dir=str(tmp_path / "cache"))
    again = cached_looks([info(copy), info(other)], survey, cache_dir=str(tmp_path / "cache"))
    assert survey.asked == ["a.mp4", "c.mp4"]
    assert same(again[0], looks[0]) and again[0].cuts == (1.5,)
    assert not same(again[1], looks[0])


def test_a_visual_that_could_not_be_read_is_looked_at_again_next_time(tmp_path):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"unreadable")
    survey = Surveyor(looks=[Look(), a_look(2.0)])
    assert cached_looks([info(clip)], survey, cache_dir=str(tmp_path)) == (Look(),)
    assert same(cached_looks([info(clip)], survey, cache_dir=str(tmp_path))[0], a_look(2.0))
    assert survey.asked == ["a.mp4", "a.mp4"]


def test_a_torn_entry_is_looked_at_again_and_replaced(tmp_path):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"clip")
    cached_looks([info(clip)], Surveyor(), cache_dir=str(tmp_path))
    (entry,) = (tmp_path / analysis_cache.LOOKS).iterdir()
    entry.write_bytes(b"\x80\x05 not a pickle")
    survey = Surveyor()
    assert cached_looks([info(clip)], survey, cache_dir=str(tmp_path))[0].samples
    assert survey.asked == ["a.mp4"]
    again = Surveyor()
    cached_looks([info(clip)], again, cache_dir=str(tmp_path))
    assert again.asked == []


def test_entries_are_keyed_by_content_and_code_version(tmp_path, monkeypatch):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"clip")
    cached_looks([info(clip)], Surveyor(), cache_dir=str(tmp_path))
    (entry,) = (tmp_path / analysis_cache.LOOKS).iterdir()
    assert entry.name == f"{content_hash(clip)}-{analysis_cache.code_version()}.pickle"
    monkeypatch.setattr(analysis_cache, "code_version", lambda: "another-release")
    survey = Surveyor()
    cached_looks([info(clip)], survey, cache_dir=str(tmp_path))
    assert survey.asked == ["a.mp4"], "a new release looks afresh"


def test_a_probe_is_kept_by_content_and_given_back_with_the_path_asked_about(tmp_path):
    first, copy = tmp_path / "a.mp4", tmp_path / "b.mp4"
    first.write_bytes(b"clip one")
    copy.write_bytes(b"clip one")
    probed: list[str] = []

    def probe_visual(path):
        probed.append(Path(path).name)
        return info(Path(path))

    assert cached_probe(str(first), probe_visual, cache_dir=str(tmp_path / "cache")) == info(first)
    assert cached_probe(str(copy), probe_visual, cache_dir=str(tmp_path / "cache")) == info(copy)
    assert probed == ["a.mp4"]


def test_a_refused_file_is_probed_again_next_time(tmp_path):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"not media")
    calls = []

    def refuse(path):
        calls.append(path)
        raise UnsupportedMedia("not a video")

    for _ in range(2):
        with pytest.raises(UnsupportedMedia):
            cached_probe(str(clip), refuse, cache_dir=str(tmp_path))
    assert len(calls) == 2


def test_entries_unused_for_a_week_go_when_a_new_one_is_written_and_a_read_keeps_one(tmp_path):
    old, used, fresh = (tmp_path / name for name in ("old.mp4", "used.mp4", "fresh.mp4"))
    for path in (old, used, fresh):
        path.write_bytes(path.name.encode())
    cached_looks([info(old), info(used)], Surveyor(), cache_dir=str(tmp_path))
    folder = tmp_path / analysis_cache.LOOKS
    week_ago = time.time() - cache_files.UNUSED_FOR_S - 60
    for entry in folder.iterdir():
        os.utime(entry, (week_ago, week_ago))
    survey = Surveyor()
    cached_looks([info(used)], survey, cache_dir=str(tmp_path))  # read: used again today
    cached_looks([info(fresh)], survey, cache_dir=str(tmp_path))  # a write prunes
    assert survey.asked == ["fresh.mp4"]
    kept = {entry.name.split("-")[0] for entry in folder.iterdir()}
    assert kept == {content_hash(used), content_hash(fresh)}
