"""Beat tracking: from mono samples to beats, tempo, meter and bar starts, or "no steady beat".

The steps, each a function below:
1. `onset_strength`: how much new sound starts in each 11.6 ms frame. Log-compressed
   spectral flux on two views of the spectrum (linear bins with a small maximum
   filter across frequency, which keeps a string's vibrato from reading as new
   notes; and semitone bands, where a soft change of chord stands out), each
   scaled by its own spread, so a quiet recording reads like a loud one.
2. `tempogram`: the onset strength's autocorrelation over 8 s windows, every few
   frames: how strongly the sound repeats at each lag, at each moment.
3. `pick_tempo`: the strongest lag of the mean tempogram under a broad prior
   (librosa's: log-normal around 120 BPM, one octave wide), refined between lags.
4. `local_tempo`: the strongest lag near that tempo in each window, smoothed, so a
   band that speeds up or slows down is followed rather than forced onto one grid.
5. librosa's dynamic-programming tracker places the beats on the onsets at that
   time-varying tempo.
6. `pulse`: whether there is a beat at all, from two features that do not depend on
   loudness (both are ratios of the same normalised autocorrelation): periodicity
   (the sound repeats at the beat or bar lag, more than at lags in general) and
   hierarchy (more at the beat or a bar than at one and a half beats; a random
   sequence of events on a fine grid, like a pad's chord changes, repeats at all
   of them alike).
7. `bar_length` and the accents of `_beat_accents`: bars of three or of four, and
   which beat starts them: the beats where the harmony changes and the bass enters.

SciPy is imported inside the functions that use it (here and in song_events.py): the analysis runs
in a process of its own (beat.analyze_music_apart), and a render worker that imports this module for
its constants never loads SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22050
HOP = 256  # 11.6 ms frames: a beat lands well within one video frame
FRAME_RATE = SAMPLE_RATE / HOP
N_FFT = 2048

FLUX_BLOCK = 2048  # frames per block of the flux computation (24 s)
COMPRESSION = 100.0  # log1p(COMPRESSION * magnitude / peak): how far quiet partials are lifted
VIBRATO_BINS = 3  # maximum filter across linear bins (about 32 Hz) before the flux
SEMITONE_LAG = 2  # the semitone view compares each frame with the one two before: slow bows still rise
SEMITONE_RANGE = (30.0, 10000.0)  # Hz
DETREND_S = 1.0  # slow swells (a crescendo, a pad) are taken out of the onset strength first

TEMPO_WINDOW_S = 8.0
TEMPOGRAM_STEP = 8  # frames between tempogram columns (93 ms): the local tempo changes far slower
TEMPOGRAM_BLOCK = 256  # tempogram columns computed at a time (24 s of song)
MIN_BPM, MAX_BPM = 40.0, 300.0
PRIOR_BPM = 120.0  # librosa's default prior, kept broad: the labelled set has 66 to 176 BPM
PRIOR_OCTAVES = 1.0
LOCAL_SPREAD = 0.2  # the local tempo may stray 20% from the song's
LOCAL_SMOOTH_S = 4.0
# How strictly beats keep their spacing, set on the labelled set: librosa's default (100)
# let a 6/8 fiddle jig slide between the dotted quarter and the eighth after it, 1000 lost
# a Haydn menuetto's phase, and 400 holds both while an accelerando is still followed
# (scores: benchmarks/README.md, "How the thresholds were found").
TIGHTNESS = 400.0

# The beat / no-beat decision, set on ../shared/media/music/beats (17 excerpts) and checked on
# MMA grooves rendered with FluidSynth (benchmarks/make_check_set.py): each threshold sits between
# the pulsed pieces and speech, rain, a rubato piano and a synth pad whose chords change at random
# on a fine grid (periodic, but at every multiple of the grid alike, which a listener hears as no
# beat). Both margins are thin: benchmarks/README.md, "How the thresholds were found".
MIN_PERIODICITY = 0.19
MIN_HIERARCHY = 0.02
# Sound with no attacks at all (held sines) has no beat whatever its autocorrelation says:
# the mean log-compressed rise per bin and frame, a ratio to the song's own peak, so the
# same at any loudness. Set below the labelled set's softest pieces and above a synthetic
# pad of drifting sines (benchmarks/README.md, "How the thresholds were found").
MIN_ATTACK = 0.001

LOW_BAND_HZ = 200.0  # kick drum, bass notes, a cello's downbeat
ACCENT_MARGIN_FOR_THREE = 1.0  # see bar_length
HIGH_BAND_HZ = 2000.0  # snare, claps and hats: the backbeat, not the bar's start
EDGE_TOLERANCE = 0.1  # first/last beats spaced more than 10% off their neighbours are dropped
QUIET_FRACTION = 0.1  # ... and so are those weaker than a tenth of the median beat (silence)
# The onset strength peaks this many frames after the sound starts (the flux of a
# 93 ms window centred on the frame); measured on the exact-labelled pieces.
ONSET_DELAY_FRAMES = 0


@dataclass(frozen=True)
class Tracking:
    """What the tracker found, in frames of the onset strength."""

    tempo: float  # BPM of the steady fit; 0.0 when there is no beat
    beat_frames: np.ndarray
    meter: int
    downbeat_frames: np.ndarray
    periodicity: float
    hierarchy: float

    @property
    def has_beat(self) -> bool:
        return self.tempo > 0 and len(self.beat_frames) >= 4


@dataclass(frozen=True)
class Onsets:
    """The onset strength per frame, and how much new sound the song has at all."""

    strength: np.ndarray  # detrended, unit spread, never negative
    attack: float  # mean log-compressed rise per bin and frame of the linear view (see MIN_ATTACK)


@dataclass(frozen=True)
class Bands:
    """The onset strength per frame of the low band (the bass) and of the high band (the snare)."""

    low: np.ndarray
    high: np.ndarray


def track(librosa, bands: Bands, onsets: Onsets, chroma: np.ndarray) -> Tracking:
    """Beats, tempo, meter and downbeats from a song's band onsets, onsets and chroma."""
    empty = np.array([], dtype=int)
    onset = onsets.strength
    if not onset.any() or onsets.attack < MIN_ATTACK:
        return Tracking(0.0, empty, 4, empty, 0.0, 0.0)
    grams = tempogram(librosa, onset)
    tempo_lag = pick_tempo(grams.mean(axis=1))
    local_lags = local_tempo(grams, tempo_lag)
    periodicity, hierarchy = pulse(grams, local_lags)
    if periodicity < MIN_PERIODICITY or hierarchy < MIN_HIERARCHY:
        return Tracking(0.0, empty, 4, empty, periodicity, hierarchy)
    bpm = 60.0 * FRAME_RATE / np.interp(np.arange(len(onset)), _column_frames(grams), local_lags)
    _, frames = librosa.beat.beat_track(
        onset_envelope=onset, sr=SAMPLE_RATE, hop_length=HOP, bpm=bpm, tightness=TIGHTNESS, trim=False
    )
    frames = trim_edges(np.asarray(frames, dtype=int), onset)
    if len(frames) < 4:
        return Tracking(0.0, empty, 4, empty, periodicity, hierarchy)
    accent = _beat_accents(librosa, bands, chroma, frames)
    meter = bar_length(grams, local_lags, accent)
    phase = _best_phase(accent, meter)[1]
    return Tracking(
        tempo=steady_tempo(frames),
        beat_frames=frames,
        meter=meter,
        downbeat_frames=frames[phase::meter],
        periodicity=periodicity,
        hierarchy=hierarchy,
    )


def spectrum(librosa, samples: np.ndarray) -> np.ndarray:
    """Magnitude STFT: N_FFT bins every HOP samples, frames centred (as librosa.stft pads with zeros).

    Taken FLUX_BLOCK frames at a time: the whole complex STFT of a 3-minute song
    would hold another 127 MB next to its magnitude.
    """
    padded = np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2)
    count = 1 + max(0, len(padded) - N_FFT) // HOP
    magnitude = np.empty((1 + N_FFT // 2, count), dtype=np.float32)
    for start in range(0, count, FLUX_BLOCK):
        stop = min(count, start + FLUX_BLOCK)
        piece = padded[start * HOP : (stop - 1) * HOP + N_FFT]
        magnitude[:, start:stop] = np.abs(librosa.stft(piece, n_fft=N_FFT, hop_length=HOP, center=False))
    return magnitude


def chroma(librosa, magnitude: np.ndarray) -> np.ndarray:
    """12 pitch classes per frame (no tuning estimate: the bars only need changes of chord)."""
    return by_blocks(magnitude, lambda block: librosa.feature.chroma_stft(S=block**2, sr=SAMPLE_RATE, tuning=0.0))


def by_blocks(magnitude: np.ndarray, frame_feature) -> np.ndarray:
    """A per-frame feature of the power spectrum, FLUX_BLOCK frames at a time (no whole-song power copy)."""
    blocks = [frame_feature(magnitude[:, start : start + FLUX_BLOCK]) for start in range(0, magnitude.shape[1], FLUX_BLOCK)]
    return np.concatenate(blocks, axis=1)


def onset_strength(librosa, magnitude: np.ndarray) -> Onsets:
    """Onset strength per frame, detrended and scaled to unit spread, never negative; and the attack level."""
    from scipy import ndimage
    linear = _log_flux(magnitude, lag=1, vibrato_bins=VIBRATO_BINS)
    semitones = _log_flux(_semitone_bands(librosa) @ magnitude, lag=SEMITONE_LAG, vibrato_bins=1)
    combined = (_unit_spread(linear) + _unit_spread(semitones)) / 2
    width = max(1, int(DETREND_S * FRAME_RATE))
    strength = np.maximum(combined - ndimage.uniform_filter1d(combined, width, mode="nearest"), 0.0)
    return Onsets(strength=strength, attack=float(linear.mean()) if len(linear) else 0.0)


def tempogram(librosa, onset: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation (lag x column) of TEMPO_WINDOW_S windows every TEMPOGRAM_STEP frames.

    Each column is its own window, so the columns are computed TEMPOGRAM_BLOCK at a time: the
    windowed copy and the FFT's complex spectrum of all of a song's columns at once would sit
    beside the spectrum. The autocorrelation is librosa.autocorrelate's own (SciPy's FFT of the
    window padded to twice its length), without its numba-compiled power, whose compilation
    alone kept as much memory (benchmarks/README.md, "Phone footage").
    """
    from scipy import fft

    window = int(TEMPO_WINDOW_S * FRAME_RATE)
    half = window // 2
    padded = np.pad(onset, (half, half), mode="linear_ramp", end_values=(0, 0))
    if len(padded) < window:
        padded = np.pad(padded, (0, window - len(padded)))
    frames = librosa.util.frame(padded, frame_length=window, hop_length=TEMPOGRAM_STEP)  # a view: no copy
    taper = np.hanning(window)[:, np.newaxis]
    padded_size = fft.next_fast_len(2 * window - 1, real=True)
    grams = np.empty(frames.shape, dtype=np.result_type(frames.dtype, taper.dtype))
    for start in range(0, frames.shape[1], TEMPOGRAM_BLOCK):
        spectrum = fft.rfft(frames[:, start : start + TEMPOGRAM_BLOCK] * taper, n=padded_size, axis=0)
        block = fft.irfft(spectrum.real**2 + spectrum.imag**2, n=padded_size, axis=0)[:window]
        grams[:, start : start + TEMPOGRAM_BLOCK] = librosa.util.normalize(block, norm=np.inf, axis=0)
    return grams


def _column_frames(grams: np.ndarray) -> np.ndarray:
    return np.arange(grams.shape[1]) * TEMPOGRAM_STEP


def _lag_range(size: int) -> tuple[int, int]:
    return int(FRAME_RATE * 60.0 / MAX_BPM), min(size - 2, int(FRAME_RATE * 60.0 / MIN_BPM))


def pick_tempo(mean_gram: np.ndarray) -> float:
    """The beat period in frames (fractional): the strongest lag under the tempo prior."""
    lags = np.arange(len(mean_gram), dtype=float)
    bpm = 60.0 * FRAME_RATE / np.maximum(lags, 1.0)
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    low, high = _lag_range(len(mean_gram))
    weighted = np.zeros_like(mean_gram)
    weighted[low:high] = (mean_gram * prior)[low:high]
    best = int(np.argmax(weighted))
    return best + _parabolic_offset(mean_gram, best)


def _parabolic_offset(values: np.ndarray, i: int) -> float:
    if not 0 < i < len(values) - 1:
        return 0.0
    a, b, c = values[i - 1], values[i], values[i + 1]
    curve = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / curve, -0.5, 0.5)) if curve < 0 else 0.0


def local_tempo(grams: np.ndarray, tempo_lag: float) -> np.ndarray:
    """The beat period (frames) at each tempogram column: the strongest lag within LOCAL_SPREAD, smoothed."""
    from scipy import ndimage
    low = max(1, int(tempo_lag * (1 - LOCAL_SPREAD)))
    high = min(grams.shape[0] - 1, int(np.ceil(tempo_lag * (1 + LOCAL_SPREAD))) + 1)
    lags = low + np.argmax(grams[low:high], axis=0).astype(float)
    span = max(1, int(LOCAL_SMOOTH_S * FRAME_RATE / TEMPOGRAM_STEP))
    lags = ndimage.median_filter(lags, size=span | 1, mode="nearest")
    return ndimage.uniform_filter1d(lags, span, mode="nearest")


def pulse(grams: np.ndarray, local_lags: np.ndarray) -> tuple[float, float]:
    """(periodicity, hierarchy) medians over the song; see the module's docstring."""
    low, high = _lag_range(grams.shape[0])
    typical = np.median(grams[low:high], axis=0)
    beat, bar2, bar3, bar4 = (_at_lag(grams, local_lags * k) for k in (1, 2, 3, 4))
    between = _at_lag(grams, local_lags * 1.5)
    periodicity = float(np.median(np.maximum.reduce([beat, bar2, bar3]) - typical))
    # The beat or a bar, not the beat alone: a bossa nova's clave repeats every one and a half beats as
    # strongly as every beat, and only its whole bar stands above both.
    hierarchy = max(float(np.median(level - between)) for level in (beat, bar2, bar3, bar4))
    return periodicity, hierarchy


def _at_lag(grams: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Each column's value at its lag, the best of the lag and its neighbours (lags are fractional)."""
    index = np.clip(np.round(lags).astype(int), 1, grams.shape[0] - 2)
    columns = np.arange(grams.shape[1])
    return np.max([grams[index + d, columns] for d in (-1, 0, 1)], axis=0)


def trim_edges(frames: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Drop first/last beats that fall in silence or break the spacing of their neighbours."""
    if len(frames) == 0:
        return frames
    strength = np.array([onset[max(0, f - 2) : f + 3].max() for f in frames])
    audible = strength >= QUIET_FRACTION * float(np.median(strength))
    start, stop = 0, len(frames)
    while stop - start >= 4:
        gaps = np.diff(frames[start:stop])
        if not audible[stop - 1] or abs(gaps[-1] / gaps[-2] - 1) > EDGE_TOLERANCE:
            stop -= 1
        elif not audible[start] or abs(gaps[0] / gaps[1] - 1) > EDGE_TOLERANCE:
            start += 1
        else:
            break
    return frames[start:stop]


def steady_tempo(frames: np.ndarray) -> float:
    """BPM from a straight-line fit of beat times (the mean tempo of a song that drifts)."""
    gaps = np.diff(frames.astype(float))
    # Count beats gap by gap (a skipped beat counts two).
    steps = np.maximum(1, np.round(gaps / float(np.median(gaps))))
    index = np.concatenate(([0.0], np.cumsum(steps)))
    slope = float(np.polyfit(index, frames / FRAME_RATE, 1)[0])
    return round(60.0 / slope, 2) if slope > 0 else 0.0


def bar_length(grams: np.ndarray, local_lags: np.ndarray, accent: np.ndarray) -> int:
    """Beats per bar, 3 or 4 (duple bars are written as bars of four).

    Three when the sound repeats more every three beats than every two or four, or
    when the beats' accents (`_beat_accents`) fall every third beat by a clear
    margin. Either alone missed a waltz: the tempogram a country waltz whose bass
    alternates root and fifth (its six-beat pattern repeats at two beats too), the
    accents a Haydn menuetto. ACCENT_MARGIN_FOR_THREE was set on the labelled set
    and the MMA check set, well clear of every 4/4 piece (benchmarks/README.md,
    "How the thresholds were found").
    """
    two, three, four = (float(np.median(_at_lag(grams, local_lags * k))) for k in (2, 3, 4))
    if three > max(two, four):
        return 3
    scores = {meter: _best_phase(accent, meter)[0] for meter in (2, 3, 4)}
    return 3 if scores[3] - max(scores[2], scores[4]) >= ACCENT_MARGIN_FOR_THREE else 4


def band_onsets(librosa, magnitude: np.ndarray) -> Bands:
    """The low and the high band's onset strength per frame, for the beats' accents."""
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=N_FFT)
    # Slices, not boolean masks: the bins are in order, and a mask would copy the high band (a third of the song's spectrum).
    return Bands(
        low=_log_flux(magnitude[: np.searchsorted(freqs, LOW_BAND_HZ, side="right")], lag=1, vibrato_bins=1),
        high=_log_flux(magnitude[np.searchsorted(freqs, HIGH_BAND_HZ, side="left") :], lag=1, vibrato_bins=1),
    )


def _beat_accents(librosa, bands: Bands, chroma: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Per beat: how far its chroma differs from the beat before's, plus the low band's onset at it, minus
    the high band's (the backbeat's snare), each scaled to unit spread. Downbeats are where it is highest."""
    low, high = bands.low, bands.high
    bounds = librosa.util.fix_frames(frames, x_max=chroma.shape[1])
    per_beat = librosa.util.sync(chroma, bounds, aggregate=np.median)
    per_beat = per_beat / (np.linalg.norm(per_beat, axis=0, keepdims=True) + 1e-9)
    # Segment k of `sync` runs from bounds[k]; change *into* segment k is at beat bounds[k].
    change = np.concatenate(([0.0], 1.0 - np.sum(per_beat[:, 1:] * per_beat[:, :-1], axis=0)))
    lows = np.array([low[max(0, f - 2) : f + 3].max() for f in bounds])
    highs = np.array([high[max(0, f - 2) : f + 3].max() for f in bounds])
    count = min(len(change), len(lows))
    # bounds starts at frame 0 when the first beat is later: drop that leading segment.
    offset = 1 if bounds[0] == 0 and frames[0] != 0 else 0
    accent = _unit_spread(change[:count]) + _unit_spread(lows[:count]) - _unit_spread(highs[:count])
    return accent[offset : offset + len(frames)]


def _best_phase(accent: np.ndarray, meter: int) -> tuple[float, int]:
    best = (-np.inf, 0)
    for phase in range(min(meter, len(accent))):
        on = accent[phase::meter]
        off = np.delete(accent, np.s_[phase::meter])
        if len(on) and len(off):
            best = max(best, (float(on.mean() - off.mean()), phase), key=lambda s: s[0])
    return best


def _log_flux(magnitude: np.ndarray, *, lag: int, vibrato_bins: int) -> np.ndarray:
    """Mean positive rise of log-compressed magnitude over `lag` frames, against a max-filtered past.

    Computed FLUX_BLOCK frames at a time: on a 3-minute song each whole-song temporary
    would be another 63 MB.
    """
    from scipy import ndimage
    peak = float(magnitude.max()) if magnitude.size else 0.0
    scale = COMPRESSION / max(peak, 1e-10)
    count = magnitude.shape[1]
    rise = np.zeros(count, dtype=np.float32)
    for start in range(lag, count, FLUX_BLOCK):
        stop = min(count, start + FLUX_BLOCK)
        block = np.log1p(scale * magnitude[:, start - lag : stop])
        past = ndimage.maximum_filter1d(block, vibrato_bins, axis=0) if vibrato_bins > 1 else block
        rise[start:stop] = np.maximum(block[:, lag:] - past[:, :-lag], 0.0).mean(axis=0)
    return rise


def _unit_spread(values: np.ndarray) -> np.ndarray:
    spread = float(values.std()) if len(values) else 0.0
    return values / spread if spread > 0 else values


def _semitone_bands(librosa) -> np.ndarray:
    """Triangular filters one semitone apart over SEMITONE_RANGE, rows summing to one, for N_FFT bins."""
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=N_FFT)
    low, high = SEMITONE_RANGE
    centres = 440.0 * 2.0 ** (np.arange(np.floor(12 * np.log2(low / 440)), np.ceil(12 * np.log2(high / 440)) + 1) / 12)
    bands = np.zeros((len(centres) - 2, len(freqs)))
    for i in range(1, len(centres) - 1):
        below, centre, above = centres[i - 1 : i + 2]
        rising = (freqs - below) / (centre - below)
        falling = (above - freqs) / (above - centre)
        bands[i - 1] = np.maximum(0.0, np.minimum(rising, falling))
        if not bands[i - 1].any():  # low semitones are narrower than a bin: take the nearest bin
            bands[i - 1, int(np.argmin(np.abs(freqs - centre)))] = 1.0
    # float32 like the magnitude: a float64 matrix would make numpy copy the whole magnitude to float64 first.
    return (bands / bands.sum(axis=1, keepdims=True)).astype(np.float32)
