"""Faces and people in a small grey picture: where a viewer looks, so a crop must keep them whole.

Two detectors that ship inside the opencv-python-headless 4.x wheel (nothing is
downloaded): the frontal-face Haar cascade (Viola and Jones) and the HOG people
detector (Dalal and Triggs, whole standing or walking bodies). Both run on the
grey samples look.py already decodes, DETECT_SIDE pixels on the long side, in
a few milliseconds each.

A single detection is weak evidence: Haar cascades fire on textures (grass,
gravel, foliage). `persistent` keeps only what is found again, in about the
same place, in a neighbouring sample of the same footage; a photo (one sample)
keeps only a face the cascade is sure of (PHOTO_FACE_NEIGHBOURS).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FACE = "face"
PERSON = "person"

# Pixels on the long side of the samples detection runs on (look.py decodes them; its own small
# samples are these averaged in 5 x 5 blocks): a face of a tenth of a 16:9 frame's height is 18 px
# there, a walking figure of 55% of the height fills HOG's 128 px window. The frontal cascade costs
# about 22 ms of CPU a 320x180 sample, HOG under 4 ms (OpenCV 4.14, one thread, the shared clips).
DETECT_SIDE = 320
FACE_MIN = 18  # pixels at DETECT_SIDE: smaller faces are more often texture than face
FACE_SCALE_STEP = 1.15
# Neighbouring hits a face needs. At 4 the astronaut photo's face (scikit-image's data) is found at
# 160, 240 and 320 px, and nothing in the shared media's photos and clips' keyframes nor scikit-image's
# grass, gravel and brick (at 3, bikes.mp4's keyframes gave one hit).
FACE_NEIGHBOURS = 4
PHOTO_FACE_NEIGHBOURS = 6  # a photo's face is never confirmed by a second sample: be stricter
# HOG's SVM margin a body must clear. At 0 no frame of the shared media gave a body (it has no
# standing figure, only bikes.mp4's half-seen legs); 0.3 is a guard against texture, not a measured
# optimum: to be set on footage of people walking (benchmarks/README.md, "framing_bench.py").
PERSON_MARGIN = 0.3
PERSON_SCALE_STEP = 1.1
# Two detections are the same subject when their boxes overlap this much (intersection over union).
SAME_SUBJECT = 0.3
# A detection counts when found again within this many seconds (neighbouring keyframes of the footage).
PERSIST_WITHIN = 4.0
# Shares of the frame's width a subject may move in a second and still be the same one: someone walking
# briskly across a 16:9 frame in 3 s (a talking head sways far less).
PACE = 0.35


@dataclass(frozen=True)
class Box:
    """A face or person, as fractions of the picture: left, top, width, height; score: the detector's."""

    x: float
    y: float
    w: float
    h: float
    kind: str = FACE
    score: float = 1.0

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def span(self, axis: str) -> tuple[float, float]:
        """Where the box lies along an axis ("x" or "y"), as fractions of the picture."""
        return (self.x, self.right) if axis == "x" else (self.y, self.bottom)

    def overlap(self, other: Box) -> float:
        """Intersection over union."""
        w = max(0.0, min(self.right, other.right) - max(self.x, other.x))
        h = max(0.0, min(self.bottom, other.bottom) - max(self.y, other.y))
        inter = w * h
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


def detect(picture: np.ndarray, *, photo: bool = False) -> tuple[Box, ...]:
    """Faces and people in a grey uint8 picture (rows x columns), largest first."""
    if picture.ndim != 2 or min(picture.shape) < 32:
        return ()
    try:
        cv2, face, hog = _detectors()
    except (ImportError, AttributeError, RuntimeError) as exc:
        # A broken OpenCV install costs the framing its people, never the job.
        _log.warning("people detection is off: %s", exc)
        return ()
    rows, cols = picture.shape
    found: list[Box] = []
    neighbours = PHOTO_FACE_NEIGHBOURS if photo else FACE_NEIGHBOURS
    boxes, _, weights = face.detectMultiScale3(
        picture, scaleFactor=FACE_SCALE_STEP, minNeighbors=neighbours, minSize=(FACE_MIN, FACE_MIN),
        outputRejectLevels=True,
    )
    for (x, y, w, h), weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).ravel()):
        found.append(Box(x / cols, y / rows, w / cols, h / rows, FACE, round(float(weight), 3)))
    if rows >= 128 and cols >= 64:
        bodies, scores = hog.detectMultiScale(
            picture, hitThreshold=PERSON_MARGIN, winStride=(8, 8), padding=(8, 8), scale=PERSON_SCALE_STEP,
        )
        for (x, y, w, h), score in zip(np.asarray(bodies).reshape(-1, 4), np.asarray(scores).ravel()):
            found.append(Box(x / cols, y / rows, w / cols, h / rows, PERSON, round(float(score), 3)))
    return tuple(sorted(found, key=lambda b: b.w * b.h, reverse=True))


def persistent(found: Sequence[tuple[float, Sequence[Box]]]) -> list[tuple[float, tuple[Box, ...]]]:
    """Each sample's detections (time, boxes) less those not found again in a sample within PERSIST_WITHIN s.

    A lone sample (a photo) keeps its own: `detect(photo=True)` was already strict.
    """
    if len(found) <= 1:
        return [(time, tuple(boxes)) for time, boxes in found]
    kept = []
    for k, (time, boxes) in enumerate(found):
        others = [(abs(t - time), b) for j, (t, bs) in enumerate(found)
                  if j != k and abs(t - time) <= PERSIST_WITHIN for b in bs]
        kept.append((time, tuple(b for b in boxes if any(_same(b, o, apart) for apart, o in others))))
    return kept


def _same(a: Box, b: Box, apart: float) -> bool:
    """The same subject seen twice, `apart` seconds apart: same kind, overlapping, or as large, at the
    same height and no further along than someone walking (PACE) gets in that time."""
    if a.kind != b.kind:
        return False
    if a.overlap(b) >= SAME_SUBJECT:
        return True
    similar = 0.7 <= (a.h / b.h if b.h else 0) <= 1.4 and abs(a.y - b.y) < 0.5 * max(a.h, b.h)
    return similar and abs(a.x - b.x) <= max(a.w, PACE * apart)


_local = threading.local()
# The look step's threads load their detectors at the same moment: a second `import cv2` while the first
# is still running can return the module before it has `cv2.data` (AttributeError, seen in workers).
_IMPORT = threading.Lock()
_log = logging.getLogger(__name__)


def _detectors():  # type: ignore[no-untyped-def]
    """OpenCV and this thread's own detectors (a cascade is not safe to share between threads), loaded once."""
    loaded = getattr(_local, "detectors", None)
    if loaded is None:
        with _IMPORT:
            import cv2  # imported here: only the look step needs it, not the web process

        # One thread each: the look step already runs one decoder per core beside it.
        cv2.setNumThreads(1)
        face = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if face.empty():
            raise RuntimeError("OpenCV's frontal face cascade is missing: opencv-python-headless 4.x is needed")
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        loaded = _local.detectors = (cv2, face, hog)
    return loaded
