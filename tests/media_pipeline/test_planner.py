"""The edit planner, checked on hand-built media facts and beat grids (no ffmpeg)."""

import json
import math
import random
from bisect import bisect_left
from dataclasses import replace

import pytest

from media_pipeline.facts import AUDIO, IMAGE, VIDEO, BeatGrid, Liveliness, MediaInfo
from media_pipeline.limits import ASPECTS
from media_pipeline.plan import CUT, plan_from_dict, plan_to_dict
from media_pipeline.planner import (
    BEATLESS_NOTE,
    BEATLESS_SLOT,
    EVENTS_NOTE,
    MIN_GAP,
    MIN_SPEED,
    OFF_EVENT_NOTE,
    SECTION_SPACING,
    plan_edit,
)
from media_pipeline.style import STYLE_NAMES, STYLES

FPS = 30
FRAME = 1 / FPS
RATE = 20.0
EPS = 1e-6


def grid(duration=90.0, tempo=120.0, envelope=lambda t: 0.5, offset=0.0, bar=4, jitter=0.0, missing=()):
    """Steady beats (optionally jittered, with some missing), a downbeat every `bar` beats, an envelope."""
    step = 60.0 / tempo
    count = int((duration - offset) / step)
    # A fixed wobble, not random: the same grid every run.
    times = [offset + i * step + jitter * math.sin(i * 1.7) for i in range(count)]
    beats = tuple(t for i, t in enumerate(times) if i not in missing and 0 <= t < duration)
    downbeats = tuple(t for i, t in enumerate(times) if bar and i % bar == 0 and t in beats)
    values = tuple(float(envelope(i / RATE)) for i in range(int(duration * RATE)))
    return BeatGrid(duration, tempo, beats, downbeats, RATE, values)


def beatless_grid(duration=90.0):
    return BeatGrid(duration, 0.0, (), (), RATE, tuple(0.3 for _ in range(int(duration * RATE))))


def event_grid(events, sections=(), duration=90.0, envelope=lambda t: 0.3):
    """No beat, but the song's own events: (time, strength) pairs, and its section changes."""
    events = sorted(events)
    values = tuple(float(envelope(i / RATE)) for i in range(int(duration * RATE)))
    return BeatGrid(
        duration, 0.0, (), (), RATE, values,
        events=tuple(t for t, _ in events), event_strengths=tuple(v for _, v in events), sections=tuple(sections),
    )


SECTIONS = (14.3, 27.9, 36.4, 51.2, 66.7)


def accents(duration=90.0, seed=7, sections=SECTIONS, envelope=None):
    """Beatless music with irregular onsets 0.3-1.1 s apart of fixed pseudo-random strength, and
    section changes that are strong onsets themselves."""
    rng = random.Random(seed)
    t, events = 0.2, [(s, 1.0) for s in sections]
    while t < duration:
        events.append((round(t, 3), round(rng.uniform(0.1, 0.9), 2)))
        t += rng.uniform(0.3, 1.1)
    return event_grid(events, sections, duration, envelope or busy)


def clip(n, duration=20.0):
    return MediaInfo(f"/media/clip{n}.mp4", VIDEO, duration, 1920, 1080, 30.0, True, "h264", "mov,mp4,m4a")


def photo(n):
    return MediaInfo(f"/media/photo{n}.jpg", IMAGE, 0.0, 4000, 3000, codec="mjpeg", format_name="image2")


def song(g):
    return MediaInfo("/media/song.mp3", AUDIO, g.duration, has_audio=True, codec="mp3", format_name="mp3")


def plan(visuals=None, g=None, style="CLEAN_VLOG", **options):
    g = g or grid()
    visuals = [clip(1), clip(2), photo(3), clip(4)] if visuals is None else visuals
    return plan_edit(visuals, song(g), g, STYLES[style], **options)


def beats_on_output(p, times):
    return [t - p.music_start for t in times if p.music_start - EPS <= t < p.music_end]


def slots(p):
    """(cut, next cut) for every segment: the stretch it is perceived to fill."""
    cuts = [0.0, *p.cuts, p.duration]
    return list(zip(cuts, cuts[1:]))


def busy(t):
    """Music that keeps changing: calm and loud passages a few seconds each."""
    return 0.5 + 0.45 * math.sin(2 * math.pi * t / 9.0)


GRIDS = {
    "steady 120": grid(),
    "busy 100": grid(tempo=100.0, envelope=busy, offset=0.31),
    "jittery 128": grid(tempo=128.0, envelope=busy, jitter=0.012, missing={9, 10, 37}),
    "fast 174": grid(tempo=174.0, envelope=busy),
    "slow 64": grid(tempo=64.0, envelope=busy),
}
CASES = [(s, g) for s in STYLE_NAMES for g in GRIDS]


# --- beats and timing ----------------------------------------------------------------------------


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_every_cut_lands_within_a_frame_of_a_beat(style, grid_name):
    p = plan(g=GRIDS[grid_name], style=style)
    beats = beats_on_output(p, GRIDS[grid_name].beats)
    assert p.cuts
    for cut in p.cuts:
        assert min(abs(cut - b) for b in beats) <= FRAME / 2 + EPS


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_segments_tile_the_video_overlapping_by_exactly_their_transitions(style, grid_name):
    p = plan(g=GRIDS[grid_name], style=style)
    assert p.segments[0].start == 0.0
    assert p.segments[-1].end == p.duration
    for before, after in zip(p.segments, p.segments[1:]):
        assert before.end - after.start == pytest.approx(after.transition_duration, abs=EPS)
        assert before.start < after.start and before.end < after.end


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_cuts_are_never_closer_than_the_minimum_gap_to_each_other_or_the_ends(style, grid_name):
    p = plan(g=GRIDS[grid_name], style=style)
    for first, last in slots(p):
        assert last - first >= MIN_GAP - EPS


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_no_transition_is_longer_than_half_a_neighbouring_segment(style, grid_name):
    p = plan(g=GRIDS[grid_name], style=style)
    for before, after in zip(p.segments, p.segments[1:]):
        assert after.transition_duration < before.length / 2
        assert after.transition_duration < after.length / 2


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_long_segments_start_on_downbeats(style, grid_name):
    g = GRIDS[grid_name]
    p = plan(g=g, style=style)
    beats = beats_on_output(p, g.beats)
    downbeats = beats_on_output(p, g.downbeats)
    long_ones = 0
    for first, last in slots(p)[1:]:
        beats_held = bisect_left(beats, last - FRAME) - bisect_left(beats, first - FRAME)
        if beats_held >= 4:
            long_ones += 1
            assert min(abs(first - d) for d in downbeats) <= FRAME / 2 + EPS
    if style == "CINEMATIC_DRAMA":
        assert long_ones > 0


def test_the_first_segment_opens_with_a_hard_cut():
    for style in STYLE_NAMES:
        first = plan(style=style).segments[0]
        assert (first.transition, first.transition_duration, first.start) == (CUT, 0.0, 0.0)


def test_transitions_come_from_the_style_and_last_at_most_its_share_of_a_beat():
    for style in STYLE_NAMES:
        p = plan(style=style)
        beat = 60.0 / p.tempo
        assert {s.transition for s in p.segments} <= {*STYLES[style].transitions, CUT}
        assert {s.transition for s in p.segments} - {CUT}, "every preset shows at least one xfade"
        for s in p.segments:
            assert s.transition_duration <= STYLES[style].transition_beats * beat + EPS
            assert (s.transition == CUT) == (s.transition_duration == 0)


# --- pacing --------------------------------------------------------------------------------------


def mean_slot(p):
    return sum(last - first for first, last in slots(p)) / len(slots(p))


def test_cinematic_holds_its_shots_longer_than_dance_on_the_same_song():
    g = grid(envelope=busy)
    assert mean_slot(plan(g=g, style="CINEMATIC_DRAMA")) > 2 * mean_slot(plan(g=g, style="ENERGETIC_DANCE"))


def test_the_styles_pace_differently():
    means = {style: round(mean_slot(plan(style=style)), 2) for style in STYLE_NAMES}
    assert len(set(means.values())) >= 4


def test_busier_louder_music_gets_shorter_cuts():
    g = grid(duration=30.0, envelope=lambda t: 0.1 if t < 15 else 0.8)  # the whole song is the window
    p = plan(g=g)
    calm = [last - first for first, last in slots(p) if last <= 15.0]
    loud = [last - first for first, last in slots(p) if first >= 15.0]
    assert calm and loud
    assert sum(calm) / len(calm) > 2 * sum(loud) / len(loud)


def test_the_video_plays_the_loudest_part_of_the_song():
    g = grid(duration=120.0, envelope=lambda t: 0.9 if 60 <= t < 90 else 0.2)
    p = plan(g=g)
    assert (p.music_start, p.music_end) == (pytest.approx(60.0), pytest.approx(90.0))
    assert p.tempo == 120.0
    assert p.beats == pytest.approx(beats_on_output(p, g.beats), abs=EPS)
    assert p.beats[0] == pytest.approx(0.0, abs=EPS)


# --- sharing out the visuals ---------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("style", ["CINEMATIC_DRAMA", "ENERGETIC_DANCE"])
def test_every_visual_appears_at_least_once(count, style):
    visuals = [photo(n) if n % 3 == 2 else clip(n) for n in range(count)]
    g = grid(tempo=60.0)  # slow beats and the shortest video: the fewest slots
    p = plan(visuals, g=g, style=style, duration=5.0)
    assert {s.visual for s in p.segments} == set(range(count))
    for cut in p.cuts:
        assert min(abs(cut - b) for b in p.beats) <= FRAME / 2 + EPS


def test_visuals_take_turns_and_return_when_there_are_few():
    p = plan([clip(1), clip(2), photo(3)])
    assert [s.visual for s in p.segments] == [k % 3 for k in range(len(p.segments))]
    assert len(p.segments) > 6


def test_a_returning_clip_shows_a_fresh_part_of_its_source():
    p = plan([clip(1, duration=120.0)], style="ENERGETIC_DANCE")
    spans = sorted((s.source_in, s.source_out) for s in p.segments)
    assert len(spans) > 10
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - EPS


@pytest.mark.parametrize("style", ["CLEAN_VLOG", "ENERGETIC_DANCE", "NEON_NIGHT", "VINTAGE_FILM"])
def test_a_short_clip_shown_whole_comes_round_again_never_repeating_what_was_just_shown(style):
    # 30 s from one 12 s clip: each part is shown two or three times. Before, a repeat was often
    # footage seen a second earlier (up to 1.9 s of it within three segments).
    p = plan([clip(1, duration=12.0)], style=style)
    spans = [(s.source_in, s.source_out) for s in p.segments]
    for k, (start, end) in enumerate(spans):
        recent = spans[max(0, k - 3):k]
        assert sum(max(0.0, min(end, b) - max(start, a)) for a, b in recent) < 0.25, \
            f"segment {k} ({start:.2f}-{end:.2f}) shows again what one of the three before it showed"


def test_a_long_clip_is_trimmed_at_real_speed_from_its_lively_middle():
    p = plan([clip(1, duration=60.0), clip(2, duration=60.0)], style="CINEMATIC_DRAMA")
    for n in (0, 1):
        first_use = next(s for s in p.segments if s.visual == n)
        assert first_use.speed == 1.0
        assert 6.0 - EPS <= first_use.source_in <= 12.0 + EPS


def lively_between(first, last, duration=60.0):
    """A clip's liveliness, sampled every second: calm except from `first` to `last` seconds."""
    times = tuple(t + 0.5 for t in range(int(duration)))
    return Liveliness(times, tuple(0.08 if first <= t <= last else 0.01 for t in times))


def test_a_clip_is_first_trimmed_where_the_most_happens():
    visuals = [clip(1, duration=60.0), clip(2, duration=60.0)]
    p = plan(visuals, style="CINEMATIC_DRAMA", liveliness=[lively_between(40, 48), None])
    first_use = next(s for s in p.segments if s.visual == 0)
    assert 40 - 0.5 <= first_use.source_in and first_use.source_out <= 48 + 0.5 + EPS
    unknown = next(s for s in p.segments if s.visual == 1)
    assert 6.0 - EPS <= unknown.source_in <= 12.0 + EPS, "a clip not looked at keeps the usual trim"


def test_a_clip_where_nothing_stands_out_keeps_the_usual_trim():
    visuals = [clip(1, duration=60.0), clip(2, duration=60.0)]
    flat = Liveliness(tuple(t + 0.5 for t in range(60)), tuple(0.02 for _ in range(60)))
    assert plan(visuals, style="CINEMATIC_DRAMA", liveliness=[flat, flat]) == plan(visuals, style="CINEMATIC_DRAMA")


def test_a_lively_clip_still_repeats_as_little_of_itself_as_it_can():
    p = plan([clip(1, duration=120.0)], style="ENERGETIC_DANCE", liveliness=[lively_between(90, 94, 120.0)])
    spans = sorted((s.source_in, s.source_out) for s in p.segments)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - EPS


def test_no_segment_shows_a_change_of_shot_inside_its_clip():
    # A clip that is itself an edit (shots changing at these times): a change inside a
    # segment would be a cut off the beat.
    cuts = (3.0, 5.5, 9.0, 12.5, 16.0, 19.0, 23.5, 27.0, 31.0, 34.5)
    lively = Liveliness(tuple(t + 0.5 for t in range(40)), tuple(0.02 for _ in range(40)), cuts)
    for style in ("ENERGETIC_DANCE", "CLEAN_VLOG"):
        p = plan([clip(1, duration=40.0), photo(2)], style=style, liveliness=[lively, None])
        shown = [s for s in p.segments if s.visual == 0]
        assert shown
        for s in shown:
            inside = [c for c in cuts if s.source_in + 0.04 < c < s.source_out - 0.04]
            assert not inside, f"{style}: {s.source_in:.2f}-{s.source_out:.2f} straddles {inside}"


def test_a_short_clip_is_slowed_but_never_below_half_speed():
    short = clip(1, duration=1.2)
    p = plan([short, clip(2)], style="CINEMATIC_DRAMA")
    mine = [s for s in p.segments if s.visual == 0]
    assert any(s.speed < 1.0 for s in mine)
    assert all(MIN_SPEED <= s.speed <= 1.0 for s in mine)
    assert all(0.0 <= s.source_in < s.source_out <= short.duration for s in mine)
    assert any("slowed" in note for note in p.notes)


def test_a_clip_too_short_for_its_slot_even_at_half_speed_gets_a_shorter_slot():
    short = clip(1, duration=0.8)  # cinematic wants 2 s+ shots: 0.8 s can fill 1.6 s at most
    p = plan([short, photo(2)], style="CINEMATIC_DRAMA")
    for s in p.segments:
        if s.visual == 0:
            assert s.length <= 2 * short.duration + EPS
            assert s.speed >= MIN_SPEED
            assert s.source_out <= short.duration
    for cut in p.cuts:
        assert min(abs(cut - b) for b in p.beats) <= FRAME / 2 + EPS


@pytest.mark.parametrize(("style", "grid_name"), CASES)
def test_each_segment_uses_exactly_its_length_times_its_speed_of_source(style, grid_name):
    visuals = [clip(1, 3.0), clip(2, 40.0), photo(3), clip(4, 1.0), clip(5, 9.0)]
    p = plan(visuals, g=GRIDS[grid_name], style=style)
    for s in p.segments:
        info = visuals[s.visual]
        assert s.source_out - s.source_in == pytest.approx(s.length * s.speed, abs=EPS)
        assert MIN_SPEED <= s.speed <= 1.0
        assert s.reframe == STYLES[style].reframe
        if info.kind == VIDEO:
            assert 0.0 <= s.source_in and s.source_out <= info.duration


def test_photos_zoom_and_pan_without_leaving_the_picture():
    p = plan([photo(1), photo(2)], style="ENERGETIC_DANCE")
    directions = set()
    for s in p.segments:
        m = s.motion
        assert m is not None and m.zoom_from != m.zoom_to
        assert (s.source_in, s.source_out, s.speed) == (0.0, pytest.approx(s.length), 1.0)
        for zoom, x, y in ((m.zoom_from, m.x_from, m.y_from), (m.zoom_to, m.x_to, m.y_to)):
            assert zoom >= 1.0
            assert 0.5 / zoom - EPS <= x <= 1 - 0.5 / zoom + EPS
            assert 0.5 / zoom - EPS <= y <= 1 - 0.5 / zoom + EPS
        directions.add((m.zoom_to > m.zoom_from, round(m.x_to - m.x_from, 3), round(m.y_to - m.y_from, 3)))
    assert {zoom_in for zoom_in, _, _ in directions} == {True, False}
    assert len(directions) >= 4


def test_clips_have_no_motion():
    p = plan([clip(1), clip(2)])
    assert all(s.motion is None for s in p.segments)


# --- songs without a beat, and short songs -------------------------------------------------------


def test_a_beatless_song_gets_even_cuts_and_says_so():
    p = plan(g=beatless_grid())
    assert p.beatless
    assert any("beat" in note for note in p.notes)
    lengths = [last - first for first, last in slots(p)]
    assert all(2.0 <= n <= 3.0 for n in lengths)
    assert max(lengths) - min(lengths) <= FRAME + EPS


def test_a_song_whose_beat_stops_before_the_chosen_window_is_planned_as_beatless():
    g = grid(duration=40.0, envelope=lambda t: 0.8 if t >= 2.0 else 0.2)
    fades_out = BeatGrid(g.duration, 120.0, g.beats[:5], g.downbeats[:2], g.envelope_rate, g.envelope)
    p = plan(g=fades_out)
    assert p.music_start == 2.0
    assert p.beatless
    assert any("beat" in note for note in p.notes)


def on_one_of(times, cut):
    return min(abs(cut - t) for t in times) <= FRAME / 2 + EPS


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_a_beatless_song_with_accents_is_cut_on_them_and_says_so(style):
    g = accents()
    p = plan(g=g, style=style)
    assert p.beatless and p.cut_basis == "events"
    assert EVENTS_NOTE in p.notes and BEATLESS_NOTE not in p.notes and OFF_EVENT_NOTE not in p.notes
    events = beats_on_output(p, g.events)
    assert len(p.cuts) >= 6
    assert all(on_one_of(events, cut) for cut in p.cuts)
    assert all(last - first >= MIN_GAP - EPS for first, last in slots(p))
    assert {s.visual for s in p.segments} == {0, 1, 2, 3}


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_without_a_beat_every_section_change_is_cut_on(style):
    g = accents()
    p = plan(g=g, style=style)
    inside = [
        s - p.music_start for s in g.sections
        if p.music_start + SECTION_SPACING <= s <= p.music_end - SECTION_SPACING
    ]
    assert len(inside) >= 2
    assert all(on_one_of(p.cuts, s) for s in inside)


def test_a_section_change_is_cut_on_the_strong_onset_beside_it():
    events = [(0.5 * i + 0.1, 0.3) for i in range(60)] + [(10.27, 1.0)]
    p = plan(g=event_grid(events, sections=(10.0,), duration=30.0))
    assert p.cut_basis == "events"
    assert on_one_of(p.cuts, 10.27) and not on_one_of(p.cuts, 10.0)


def test_without_a_beat_strong_accents_are_preferred_to_weak_ones_near_them():
    weak = [(0.5 * i, 0.2) for i in range(1, 60)]
    strong = [(round(2.3 * i + 0.27, 3), 1.0) for i in range(13)]
    p = plan(g=event_grid(weak + strong, duration=30.0))
    assert p.cut_basis == "events" and len(p.cuts) >= 8
    assert all(on_one_of([t for t, _ in strong], cut) for cut in p.cuts)


def test_without_a_beat_cuts_keep_the_beatless_pace_and_come_faster_where_the_music_is_louder():
    even = [(round(0.25 * i + 0.1, 3), 0.5) for i in range(120)]
    steady = plan(g=event_grid(even, duration=30.0))
    assert steady.cut_basis == "events"
    assert 0.8 * BEATLESS_SLOT <= steady.duration / len(steady.segments) <= 1.2 * BEATLESS_SLOT
    p = plan(g=event_grid(even, duration=30.0, envelope=lambda t: 0.9 if t < 15.0 else 0.3))
    loud = [last - first for first, last in slots(p) if last <= 15.0]
    quiet = [last - first for first, last in slots(p) if first >= 15.0]
    assert loud and quiet and max(loud) < min(quiet)


@pytest.mark.parametrize(
    "events",
    [
        [(5.0, 1.0), (12.0, 1.0), (20.0, 1.0)],  # too few
        [(0.1 * i + 0.05, 1.0) for i in range(40)],  # all in the first four seconds
    ],
    ids=["three", "all at the start"],
)
def test_a_beatless_song_with_too_few_accents_keeps_even_cuts(events):
    p = plan(g=event_grid(events, duration=30.0))
    assert p.beatless and p.cut_basis == "even"
    assert BEATLESS_NOTE in p.notes and EVENTS_NOTE not in p.notes
    lengths = [last - first for first, last in slots(p)]
    assert max(lengths) - min(lengths) <= FRAME + EPS


def test_the_plan_says_what_its_cuts_follow():
    assert plan().cut_basis == "beats"
    assert plan(g=beatless_grid()).cut_basis == "even"
    g = grid()
    with_events = BeatGrid(g.duration, g.tempo, g.beats, g.downbeats, g.envelope_rate, g.envelope,
                           events=(1.3, 7.7, 12.1, 19.9), event_strengths=(1.0,) * 4, sections=(7.7,))
    p = plan(g=with_events)
    assert p.cut_basis == "beats" and not p.beatless and EVENTS_NOTE not in p.notes


def test_a_plan_stored_before_cut_basis_loads_with_what_it_cut_on():
    for g, basis in ((grid(), "beats"), (beatless_grid(), "even")):
        stored = plan_to_dict(plan(g=g))
        del stored["cut_basis"]
        assert plan_from_dict(stored).cut_basis == basis


def test_a_short_song_sets_the_duration_and_says_so():
    p = plan(g=grid(duration=21.5))
    assert p.duration == 21.5
    assert p.requested_duration == 30.0
    assert p.segments[-1].end == 21.5
    assert (p.music_start, p.music_end) == (0.0, 21.5)
    assert any("21.5" in note for note in p.notes)


def test_the_duration_is_rounded_down_to_a_whole_frame():
    p = plan(g=grid(duration=17.123))
    assert p.duration * FPS == pytest.approx(round(p.duration * FPS))
    assert 17.123 - FRAME < p.duration <= 17.123


def test_a_long_enough_song_gives_the_requested_duration_with_no_notes():
    p = plan(duration=45.0)
    assert p.duration == 45.0
    assert p.notes == ()
    assert p.music_end - p.music_start == pytest.approx(45.0)


# --- frame, serialising, determinism -------------------------------------------------------------


def test_the_aspect_sets_the_frame_unless_a_size_overrides_it():
    assert (plan(aspect="1:1").width, plan(aspect="1:1").height) == ASPECTS["1:1"]
    small = plan(aspect="9:16", size=(108, 192), fps=24)
    assert (small.width, small.height, small.fps, small.aspect_ratio) == (108, 192, 24, "9:16")


def test_a_plan_survives_a_json_round_trip():
    p = plan([clip(1), photo(2), clip(3, 1.0)], g=GRIDS["jittery 128"], style="NEON_NIGHT")
    assert plan_from_dict(json.loads(json.dumps(plan_to_dict(p)))) == p


def test_a_job_plan_stored_with_its_sync_report_still_loads():
    p = plan()
    stored = {**plan_to_dict(p), "sync": {"fps": p.fps, "cuts": [], "summary": "0 of 0 cuts on the beat"}}
    assert plan_from_dict(json.loads(json.dumps(stored))) == p


def test_a_plan_cut_on_events_survives_a_json_round_trip():
    p = plan([clip(1), photo(2), clip(3, 1.0)], g=accents(), style="CHILL_LOFI")
    assert p.cut_basis == "events"
    assert plan_from_dict(json.loads(json.dumps(plan_to_dict(p)))) == p


def test_the_same_inputs_give_the_same_plan():
    for style in STYLE_NAMES:
        assert plan(g=GRIDS["busy 100"], style=style) == plan(g=GRIDS["busy 100"], style=style)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visuals", "options", "message"),
    [
        ([], {}, "between 1 and 5"),
        ([clip(n) for n in range(6)], {}, "between 1 and 5"),
        ([clip(1)], {"duration": 4.9}, "5 to 60 seconds"),
        ([clip(1)], {"duration": 61}, "5 to 60 seconds"),
        ([clip(1)], {"duration": float("nan")}, "5 to 60 seconds"),
        ([clip(1)], {"aspect": "3:2"}, "9:16"),
        ([clip(1)], {"fps": 0}, "frame rate"),
        ([clip(1)], {"size": (107, 192)}, "even"),
        ([clip(1, duration=0.2)], {}, "at least 0.5 s"),
        ([MediaInfo("/media/a.mp3", AUDIO, 10.0)], {}, "not a video clip or a photo"),
    ],
)
def test_a_request_that_cannot_be_planned_is_refused_with_a_clear_message(visuals, options, message):
    with pytest.raises(ValueError, match=message):
        plan(visuals, **options)


def test_a_song_too_short_to_edit_is_refused():
    with pytest.raises(ValueError, match="at least 3 seconds"):
        plan(g=grid(duration=2.0))


# --- many requests at once -----------------------------------------------------------------------


def random_request(rng):
    """A plausible request drawn from a seeded generator: odd tempos, wobbly beats, short clips."""
    tempo = 0.0 if rng.random() < 0.2 else rng.uniform(50, 190)
    duration = rng.uniform(6.0, 100.0)
    g = grid(duration, tempo, busy, rng.uniform(0, 0.5), rng.choice([0, 3, 4]), 0.015) if tempo else beatless_grid()
    visuals = [
        photo(n) if rng.random() < 0.3 else clip(n, rng.choice([1.0, 2.5, 6.0, rng.uniform(1.0, 90.0)]))
        for n in range(rng.randint(1, 5))
    ]
    options = {"duration": rng.uniform(5.0, 60.0), "fps": rng.choice([24, 25, 30, 60])}
    return visuals, g, rng.choice(STYLE_NAMES), options


def assert_the_timeline_holds(p, visuals):
    """Every visual shown, the whole duration covered, gaps and transitions in bounds, speeds within limits."""
    assert (p.segments[0].start, p.segments[-1].end) == (0.0, p.duration)
    assert {s.visual for s in p.segments} == set(range(len(visuals)))
    for first, last in slots(p):
        assert last - first >= MIN_GAP - EPS
    for before, after in zip(p.segments, p.segments[1:]):
        assert before.end - after.start == pytest.approx(after.transition_duration, abs=EPS)
        assert after.transition_duration < min(before.length, after.length) / 2
    for s in p.segments:
        assert MIN_SPEED <= s.speed <= 1.0
        assert s.source_out - s.source_in == pytest.approx(s.length * s.speed, abs=EPS)


def test_random_requests_keep_every_promise():
    rng = random.Random(20240611)
    for _ in range(150):
        visuals, g, style, options = random_request(rng)
        p = plan(visuals, g=g, style=style, **options)
        frame = 1 / p.fps
        assert_the_timeline_holds(p, visuals)
        for s in p.segments:
            if visuals[s.visual].kind == VIDEO:
                assert 0.0 <= s.source_in and s.source_out <= visuals[s.visual].duration
        if not p.beatless and not any("between beats" in note for note in p.notes):
            for cut in p.cuts:
                assert min(abs(cut - b) for b in p.beats) <= frame / 2 + EPS


def random_accents(rng):
    """Beatless music with accents drawn from a seeded generator: sparse or dense, clustered or spread."""
    duration = rng.uniform(6.0, 100.0)
    spacing = rng.choice([0.15, 0.5, 1.0, 2.5, 6.0])
    t, events = rng.uniform(0.0, 1.0), []
    while t < duration:
        events.append((round(t, 3), round(rng.random(), 2)))
        t += rng.uniform(0.2, 2.0) * spacing
    sections = sorted(round(rng.uniform(0.0, duration), 2) for _ in range(rng.randint(0, 6)))
    return event_grid(events, sections, duration, busy)


def test_random_songs_without_a_beat_keep_every_promise_and_cut_on_their_accents():
    rng = random.Random(20240612)
    bases = set()
    for _ in range(120):
        visuals, _, style, options = random_request(rng)
        g = random_accents(rng)
        p = plan(visuals, g=g, style=style, **options)
        bases.add(p.cut_basis)
        assert p.beatless and p.cut_basis in ("events", "even")
        assert_the_timeline_holds(p, visuals)
        if p.cut_basis == "events" and OFF_EVENT_NOTE not in p.notes:
            marks = beats_on_output(p, g.events + g.sections)
            assert all(min(abs(cut - t) for t in marks) <= 0.5 / p.fps + EPS for cut in p.cuts)
    assert bases == {"events", "even"}


# --- another edit of the same files (a seed) -------------------------------------------------------


def test_seed_zero_is_the_planners_own_first_choice():
    for style in STYLE_NAMES:
        assert plan(style=style, seed=0) == plan(style=style)


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_the_same_seed_gives_the_same_plan(style):
    g = GRIDS["busy 100"]
    for seed in (1, 7, 123456):
        assert plan_to_dict(plan(g=g, style=style, seed=seed)) == plan_to_dict(plan(g=g, style=style, seed=seed))


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_another_seed_gives_another_edit_of_the_same_files(style):
    g = GRIDS["busy 100"]
    visuals = [clip(1, duration=40.0), clip(2, duration=40.0), photo(3), clip(4, duration=40.0)]
    edits = {json.dumps(plan_to_dict(plan(visuals, g, style, seed=seed)), sort_keys=True) for seed in range(6)}
    assert len(edits) == 6
    first, other = plan(visuals, g, style), plan(visuals, g, style, seed=2)
    assert (first.visuals, first.music, first.duration) == (other.visuals, other.music, other.duration)


def test_a_seed_changes_the_order_the_trims_and_the_pacing():
    visuals = [clip(1, duration=40.0), clip(2, duration=40.0), photo(3), clip(4, duration=40.0)]
    g = GRIDS["steady 120"]
    first = plan(visuals, g)
    others = [plan(visuals, g, seed=seed) for seed in range(1, 11)]
    assert any([s.visual for s in p.segments[:4]] != [0, 1, 2, 3] for p in others)
    assert any(p.cuts != first.cuts for p in others)
    first_trim = next(s.source_in for s in first.segments if s.visual == 0)
    assert any(next(s.source_in for s in p.segments if s.visual == 0) != first_trim for p in others)


@pytest.mark.parametrize("grid_name", GRIDS)
def test_a_seeded_plan_keeps_every_promise(grid_name):
    g = GRIDS[grid_name]
    for seed in range(1, 8):
        style = STYLE_NAMES[seed % len(STYLE_NAMES)]
        p = plan(g=g, style=style, seed=seed)
        beats = beats_on_output(p, g.beats)
        for cut in p.cuts:
            assert min(abs(cut - b) for b in beats) <= FRAME / 2 + EPS
        for first, last in slots(p):
            assert last - first >= MIN_GAP - EPS
        assert {s.visual for s in p.segments} == {0, 1, 2, 3}
        assert p.segments[0].start == 0.0 and p.segments[-1].end == p.duration
        for before, after in zip(p.segments, p.segments[1:]):
            assert before.end - after.start == pytest.approx(after.transition_duration, abs=EPS)


def test_a_seeded_plan_does_not_depend_on_the_folder_the_files_were_read_from():
    def in_folder(folder):
        return [replace(clip(n, duration=40.0), path=f"{folder}/clip{n}.mp4") for n in (1, 2)]

    here, there = plan(in_folder("/scratch/job-a"), seed=9), plan(in_folder("/scratch/job-b"), seed=9)
    assert [(s.visual, s.source_in, s.first_frame) for s in here.segments] == \
        [(s.visual, s.source_in, s.first_frame) for s in there.segments]
