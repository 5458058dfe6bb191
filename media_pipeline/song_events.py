"""A song's own events, for cutting music with no steady beat: its salient onsets and its section changes.

Both are read from what the beat tracker computes anyway (the onset strength and
the magnitude spectrum), so they cost a few milliseconds.
"""

from __future__ import annotations

import numpy as np

from .beat_tracking import FRAME_RATE, SAMPLE_RATE, by_blocks

EVENT_MIN_GAP_S = 0.25  # two accents closer than this are one event to the eye
# An event must stand out from the onset strength around it: at least this many times
# the local mean over EVENT_CONTEXT_S. On the labelled set's no-beat pieces this kept
# the piano's phrase starts and the speakers' stressed syllables, and dropped rain drops.
EVENT_CONTRAST = 3.0
EVENT_CONTEXT_S = 1.0
MAX_EVENTS_PER_S = 2.0  # the strongest only: a cut needs a moment, not every syllable

SECTION_STEP_S = 0.5  # the features are pooled into half-second steps
SECTION_KERNEL_S = 8.0  # a section change is judged on this much music either side
SECTION_MIN_GAP_S = 6.0
# Novelty (0..1, cosine distance of the two sides) a change must reach to count.
SECTION_MIN_NOVELTY = 0.1


def salient_events(onset: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(times in seconds, strengths 0..1): onset peaks that stand well above their surroundings."""
    from scipy import ndimage
    if not onset.any():
        return (), ()
    gap = max(1, int(EVENT_MIN_GAP_S * FRAME_RATE))
    is_peak = onset == ndimage.maximum_filter1d(onset, 2 * gap + 1, mode="constant")
    context = ndimage.uniform_filter1d(onset, max(1, int(EVENT_CONTEXT_S * FRAME_RATE)), mode="nearest")
    frames = np.flatnonzero(is_peak & (onset > EVENT_CONTRAST * context) & (onset > 0))
    duration = len(onset) / FRAME_RATE
    keep = max(1, int(MAX_EVENTS_PER_S * duration))
    if len(frames) > keep:
        frames = np.sort(frames[np.argsort(onset[frames])[::-1][:keep]])
    if not len(frames):
        return (), ()
    strengths = onset[frames] / float(onset[frames].max())
    return (
        tuple(round(float(f) / FRAME_RATE, 4) for f in frames),
        tuple(round(float(s), 4) for s in strengths),
    )


def section_features(librosa, magnitude: np.ndarray, harmony: np.ndarray) -> np.ndarray:
    """Timbre, harmony and loudness, each standardised, averaged over SECTION_STEP_S: what sections differ in."""
    step = max(1, int(SECTION_STEP_S * FRAME_RATE))
    mel = by_blocks(magnitude, lambda block: librosa.feature.melspectrogram(S=block**2, sr=SAMPLE_RATE, n_mels=40))
    timbre = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)[1:]
    loudness = librosa.power_to_db(mel.sum(axis=0, keepdims=True))
    features = np.vstack([_standardised(timbre), _standardised(harmony), _standardised(loudness)])
    return _pool(features, step)


def section_changes(pooled: np.ndarray) -> tuple[float, ...]:
    """Seconds where the music changes section: the peaks of a checkerboard novelty over section_features."""
    from scipy import ndimage
    half = int(SECTION_KERNEL_S / SECTION_STEP_S)
    if pooled.shape[1] < 2 * half + 1:
        return ()
    novelty = np.zeros(pooled.shape[1])
    for i in range(half, pooled.shape[1] - half):
        before = pooled[:, i - half : i].mean(axis=1)
        after = pooled[:, i : i + half].mean(axis=1)
        novelty[i] = 1.0 - float(before @ after) / (np.linalg.norm(before) * np.linalg.norm(after) + 1e-9)
    spacing = int(SECTION_MIN_GAP_S / SECTION_STEP_S)
    peaks = novelty == ndimage.maximum_filter1d(novelty, 2 * spacing + 1, mode="constant")
    chosen = np.flatnonzero(peaks & (novelty >= SECTION_MIN_NOVELTY))
    return tuple(round(float(i) * SECTION_STEP_S, 3) for i in chosen)


def _standardised(features: np.ndarray) -> np.ndarray:
    spread = features.std(axis=1, keepdims=True)
    return (features - features.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)


def _pool(features: np.ndarray, step: int) -> np.ndarray:
    count = features.shape[1] // step
    if count == 0:
        return features[:, :0]
    return features[:, : count * step].reshape(features.shape[0], count, step).mean(axis=2)
