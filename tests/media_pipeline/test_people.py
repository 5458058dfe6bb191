"""people.py: faces and people found in grey samples, and only those found again kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg
from media_pipeline.facts import VIDEO
from media_pipeline.look import look_at
from media_pipeline.people import FACE, PERSON, Box, detect, persistent
from media_pipeline.probe import probe_visual

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "media"


def test_boxes_overlap_as_intersection_over_union():
    a = Box(0.0, 0.0, 0.2, 0.2)
    assert a.overlap(a) == pytest.approx(1.0)
    assert a.overlap(Box(0.1, 0.0, 0.2, 0.2)) == pytest.approx(1 / 3)
    assert a.overlap(Box(0.5, 0.5, 0.1, 0.1)) == 0.0


def test_a_face_found_in_one_sample_only_is_dropped_and_one_found_again_is_kept():
    steady, flicker = Box(0.4, 0.2, 0.1, 0.18), Box(0.05, 0.7, 0.05, 0.09)
    kept = persistent([(0.0, (steady, flicker)), (1.0, (steady,)), (2.0, (Box(0.41, 0.21, 0.1, 0.18),))])
    assert [boxes for _, boxes in kept][0] == (steady,)
    assert all(len(boxes) == 1 for _, boxes in kept)


def test_a_walking_person_counts_as_found_again_though_it_moved_more_than_its_width():
    kept = persistent([(0.0, (Box(0.1, 0.3, 0.08, 0.5, PERSON),)), (1.0, (Box(0.3, 0.31, 0.08, 0.5, PERSON),))])
    assert all(len(boxes) == 1 for _, boxes in kept)


def test_detections_far_apart_in_time_do_not_confirm_each_other():
    face = Box(0.4, 0.2, 0.1, 0.18, FACE)
    kept = persistent([(0.0, (face,)), (30.0, (face,))])
    assert all(boxes == () for _, boxes in kept)


def test_a_photo_keeps_its_single_samples_detections():
    face = Box(0.4, 0.2, 0.1, 0.18, FACE)
    assert persistent([(0.0, (face,))]) == [(0.0, (face,))]


def test_a_flat_or_noisy_picture_has_nobody_in_it():
    rng = np.random.default_rng(3)
    assert detect(np.full((180, 320), 90, np.uint8)) == ()
    assert detect(rng.integers(0, 255, (180, 320), dtype=np.uint8)) == ()
    assert detect(np.zeros((10, 10), np.uint8)) == ()


# ---------------------------------------------------------------- real media (skipped without it)

shared_media = pytest.mark.skipif(not SHARED.is_dir() or not ffmpeg.available(), reason="needs ../shared/media")


@shared_media
@pytest.mark.parametrize("name", ["photo/LadyBird.jpg", "photo/Dune.jpg", "photo/Storm.jpg", "photo/wood.webp",
                                  "video/bikes.mp4", "video/bigbuckbunny.mp4"])
def test_the_shared_media_without_faces_shows_none_once_confirmed(name):
    # Grass, gravel-like wood, street and a cartoon: where Haar cascades fire on texture.
    info = probe_visual(str(SHARED / name))
    samples = look_at(info).samples
    confirmed = persistent([(s.time, s.people) for s in samples])
    faces = [b for _, boxes in confirmed for b in boxes if b.kind == FACE]
    assert faces == []
    if info.kind == VIDEO:
        assert len(samples) >= 2


def test_a_broken_opencv_costs_the_detections_not_the_job(monkeypatch):
    from media_pipeline import people

    def broken():
        raise AttributeError("module 'cv2' has no attribute 'data'")

    monkeypatch.setattr(people, "_detectors", broken)
    assert detect(np.full((180, 320), 90, np.uint8)) == ()
