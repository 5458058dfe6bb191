"""The render command: one ffmpeg process, one filter graph, built from a plan (no ffmpeg run here).

The helpers at the top build plans by hand (test_render.py uses them too): a plan
is described as shots, each lasting from its cut to the next, with the transition
into it; segment start/end then follow the plan timeline convention.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace

import pytest

from media_pipeline import ffmpeg, graph
from media_pipeline.facts import AUDIO, IMAGE, VIDEO, MediaInfo
from media_pipeline.frame_grid import frame_count, grid_spans
from media_pipeline.plan import BLUR, CUT, FILL, LETTERBOX, Motion, Plan, Segment
from media_pipeline.style import AudioTreatment, Grade, Style

# ---------------------------------------------------------------- helpers shared with test_render.py


def clip_info(path: str, width: int, height: int, seconds: float, *, audio: bool = False,
              rotation: int = 0, sar: float = 1.0, hdr: str = "") -> MediaInfo:
    """A video clip's facts as probe reports them: width/height are the display size."""
    return MediaInfo(path=path, kind=VIDEO, duration=seconds, width=width, height=height, fps=30.0,
                     has_audio=audio, codec="h264", format_name="mov,mp4,m4a,3gp,3g2,mj2",
                     rotation=rotation, sample_aspect=sar, hdr=hdr)


def photo_info(path: str, width: int, height: int) -> MediaInfo:
    return MediaInfo(path=path, kind=IMAGE, duration=0.0, width=width, height=height, codec="mjpeg")


def song_info(path: str, seconds: float) -> MediaInfo:
    return MediaInfo(path=path, kind=AUDIO, duration=seconds, codec="pcm_s16le", format_name="wav")


@dataclass(frozen=True)
class Shot:
    """One segment as an editor thinks of it: what shows from its cut to the next cut."""

    visual: int
    seconds: float
    transition: str = CUT  # into this shot
    overlap: float = 0.0  # the transition's length, centred on the cut
    source_in: float = 0.0
    speed: float = 1.0
    reframe: str = FILL
    motion: Motion | None = None


def build_plan(visuals: list[MediaInfo], music: MediaInfo, shots: list[Shot], *, style: str = "TEST",
               width: int = 180, height: int = 320, fps: int = 30, music_start: float = 0.0) -> Plan:
    """A Plan whose segments are the shots put on the frame grid as plan.py says (overlaps centred on the cuts)."""
    cuts = [0.0]
    for shot in shots:
        cuts.append(cuts[-1] + shot.seconds)
    duration = cuts[-1]
    starts, ends = [], []
    for i, shot in enumerate(shots):
        incoming = shot.overlap if i > 0 else 0.0
        outgoing = shots[i + 1].overlap if i + 1 < len(shots) else 0.0
        starts.append(frame_count(cuts[i] - incoming / 2, fps))
        ends.append(frame_count(cuts[i + 1] + outgoing / 2, fps))
    hard = [i == 0 or shot.transition == CUT for i, shot in enumerate(shots)]
    spans = grid_spans(starts, ends, hard, frame_count(duration, fps))
    segments = []
    for i, (shot, (first, frames, overlap)) in enumerate(zip(shots, spans)):
        photo = visuals[shot.visual].kind == IMAGE
        source_in = 0.0 if photo else shot.source_in
        source_out = source_in + frames / fps * (1.0 if photo else shot.speed)
        segments.append(Segment(
            visual=shot.visual, source_in=source_in, source_out=source_out, speed=shot.speed,
            first_frame=first, frames=frames, overlap=overlap, fps=fps,
            transition=shot.transition if i > 0 and overlap else CUT, reframe=shot.reframe, motion=shot.motion,
        ))
    return Plan(style=style, width=width, height=height, fps=fps, duration=duration, requested_duration=duration,
                visuals=tuple(visuals), music=music, music_start=music_start, music_end=music_start + duration,
                tempo=120.0, beats=tuple(cuts[1:-1]), beatless=False, segments=tuple(segments))


def make_style(*, reframe: str = FILL, grade: Grade = Grade(), audio: AudioTreatment = AudioTreatment()) -> Style:
    return Style(name="TEST", label="Test", description="for tests", beats_per_cut=(2,), transitions=(CUT,),
                 transition_beats=0.5, reframe=reframe, grade=grade, audio=audio)


# ---------------------------------------------------------------- fixtures

CLIP_A = clip_info("/media/a.mp4", 1920, 1080, 20.0, audio=True)
CLIP_B = clip_info("/media/b.mov", 1080, 1920, 20.0, rotation=90)
PHOTO = photo_info("/media/p.jpg", 4000, 3000)
SONG = song_info("/media/song.wav", 180.0)


def command(plan: Plan, style: Style | None = None) -> list[str]:
    return graph.build_command(plan, "/out/edit.mp4", style=style or make_style())


def filter_graph(args: list[str]) -> str:
    return args[args.index("-filter_complex") + 1]


def inputs(args: list[str]) -> list[tuple[list[str], str]]:
    """(the options before it, path) for every -i."""
    found, options = [], []
    for i, arg in enumerate(args):
        if arg == "-i":
            found.append((options, args[i + 1]))
            options = []
        elif i == 0 or args[i - 1] != "-i":
            options.append(arg)
    return found


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


# The graph writes its own pad labels: tests follow them from chain to chain, never spell them.


def chains(text: str) -> list[str]:
    """The graph's chains (a quoted expression may hold a semicolon)."""
    found, quoted, start = [], False, 0
    for k, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif char == ";" and not quoted:
            found.append(text[start:k])
            start = k + 1
    return [*found, text[start:]]


def starts(chain: str) -> list[str]:
    """The labels a chain reads, in order."""
    found = []
    while chain.startswith("["):
        label, chain = chain[1:].split("]", 1)
        found.append(label)
    return found


def ends(chain: str) -> list[str]:
    """The labels a chain writes, in order."""
    found = []
    while chain.endswith("]") and "'" not in chain[chain.rindex("["):]:
        chain, label = chain[:-1].rsplit("[", 1)
        found.insert(0, label)
    return found


def writer(text: str, label: str) -> str:
    """The chain that writes `label`."""
    return next(chain for chain in chains(text) if label in ends(chain))


def reader(text: str, label: str) -> str:
    """The chain that reads `label`."""
    return next(chain for chain in chains(text) if label in starts(chain))


def mixed_plan(wipe: str = "wipeleft") -> Plan:
    return build_plan(
        [CLIP_A, CLIP_B, PHOTO],
        SONG,
        [
            Shot(0, 2.0, source_in=1.0),
            Shot(1, 2.0, "fade", 0.5, source_in=3.0),
            Shot(2, 2.0, CUT, motion=Motion(1.0, 1.2, 0.5, 0.5, 0.6, 0.4)),
            Shot(0, 2.0, wipe, 0.4, source_in=10.0),
            Shot(2, 2.0, "fadeblack", 0.5),
        ],
    )


# ---------------------------------------------------------------- the command line


def test_the_command_is_an_argument_list_for_ffmpeg_not_a_shell_string():
    args = command(mixed_plan())
    assert args[0] == ffmpeg.FFMPEG
    assert all(isinstance(a, str) for a in args)
    assert len(args) > 40
    outside_graph = [a for a in args if a != filter_graph(args)]
    assert not any(token in a for a in outside_graph for token in ("&&", "|", ";", "`", "$("))


def test_ffmpeg_run_adds_nostdin_to_the_render_command(monkeypatch):
    seen = []

    class FakePopen:
        def __init__(self, argv, **kwargs):
            seen.append(argv)
            self.stdout, self.stderr, self.pid, self.returncode = iter(()), iter(()), 999999, 0

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    monkeypatch.setattr(ffmpeg, "_kill_group", lambda proc: None)
    ffmpeg.run(command(mixed_plan()), timeout=5)
    assert seen[0][0] == ffmpeg.FFMPEG and "-nostdin" in seen[0]


def test_every_input_is_locked_to_local_files_and_known_containers():
    found = inputs(command(mixed_plan()))
    assert len(found) == 5  # three runs of clip footage, one photo, the song
    for options, path in found:
        assert option(options, "-protocol_whitelist") == "file"
        assert option(options, "-format_whitelist")
        assert path.startswith("/media/")


def test_each_video_input_is_seeked_to_its_footage_with_a_short_margin():
    plan = mixed_plan()
    videos = [(o, p) for o, p in inputs(command(plan)) if p.endswith((".mp4", ".mov"))]
    assert [p for _, p in videos] == ["/media/a.mp4", "/media/b.mov", "/media/a.mp4"]
    for (options, _), seg in zip(videos, [plan.segments[0], plan.segments[1], plan.segments[3]]):
        assert float(option(options, "-ss")) == pytest.approx(seg.source_in, abs=1e-6)
        length = float(option(options, "-t"))
        assert seg.source_out - seg.source_in < length <= seg.source_out - seg.source_in + 0.2
        assert options.index("-ss") < options.index("-protocol_whitelist")


def test_segments_moving_forward_through_a_clip_share_one_seeked_input():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [
        Shot(0, 2.0, source_in=1.0), Shot(1, 2.0), Shot(0, 2.0, source_in=3.0), Shot(1, 2.0, source_in=2.0),
    ])
    found = inputs(command(plan))
    assert [p for _, p in found] == ["/media/a.mp4", "/media/b.mov", "/media/song.wav"]
    options = found[0][0]
    assert float(option(options, "-ss")) == pytest.approx(1.0)
    assert 4.0 < float(option(options, "-t")) < 4.2  # one decode from 1 s to 5 s


def test_a_clip_reused_further_back_opens_a_second_input():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [
        Shot(0, 2.0, source_in=8.0), Shot(1, 2.0), Shot(0, 2.0, source_in=1.0),
    ])
    paths = [p for _, p in inputs(command(plan))]
    assert paths.count("/media/a.mp4") == 2


def test_a_photo_is_decoded_once_without_the_loop_option_even_when_shown_twice():
    args = command(mixed_plan())
    assert [p for _, p in inputs(args)].count("/media/p.jpg") == 1
    assert "-loop" not in args
    text = filter_graph(args)
    # One zoompan makes both shots (the still one at zoom 1); a segment filter deals them out.
    assert text.count("zoompan=") == 1
    assert "segment=frames=" in text.split("zoompan=")[1].split(";")[0]


def test_a_photo_shown_only_still_repeats_one_composed_frame():
    plan = build_plan([CLIP_A, PHOTO], SONG, [Shot(0, 1.0), Shot(1, 1.0), Shot(0, 1.0, source_in=1.0), Shot(1, 1.0)])
    text = filter_graph(command(plan))
    assert "zoompan" not in text
    assert text.count("loop=loop=59:size=1") == 1


def test_the_ken_burns_move_follows_the_segment_motion():
    text = filter_graph(command(mixed_plan()))
    zoompan = next(part for part in text.split(";") if "zoompan" in part)
    assert "(1+0.2*on/" in zoompan  # zoom 1.0 -> 1.2 over the segment's frames
    assert "(0.5+0.1*on/" in zoompan and "(0.5+-0.1*on/" in zoompan
    assert "s=180x320" in zoompan and "fps=30" in zoompan


def test_a_letterboxed_photo_moves_inside_its_bars_not_with_them():
    still = Motion(1.0, 1.3, 0.5, 0.5, 0.5, 0.5)
    plan = build_plan([PHOTO], SONG, [Shot(0, 2.0, reframe=LETTERBOX, motion=still)])
    text = filter_graph(command(plan))
    chain = next(part for part in text.split(";") if "zoompan" in part)
    # zoompan makes the 180x136 picture only; the bars are added after it, to each frame.
    assert "s=180x136" in chain
    assert chain.index("zoompan=") < chain.index("pad=180:320:0:92:black")
    assert chain.index("scale=") < chain.index("zoompan=") and "pad=" not in chain[: chain.index("zoompan=")]


def test_segment_frames_follow_the_plan_and_add_up_to_its_duration():
    plan = mixed_plan()
    timings = graph.segment_timings(plan)
    assert sum(t.frames - t.overlap for t in timings) == 300 == graph.output_frames(plan)
    for seg, timing in zip(plan.segments, timings):
        assert timing.first_frame == graph.frame_count(seg.start, 30)
        assert timing.end_frame == graph.frame_count(seg.end, 30)
    assert [t.overlap for t in timings] == [0, 15, 0, 12, 15]


def test_a_transition_starts_at_its_segments_start_and_ends_where_the_previous_segment_ends():
    plan = mixed_plan()
    timings = graph.segment_timings(plan)
    for previous, (seg, timing) in zip(timings, list(zip(plan.segments, timings))[1:]):
        if seg.transition == CUT:
            assert timing.first_frame == previous.end_frame
        else:
            assert timing.first_frame / 30 == pytest.approx(seg.start, abs=1 / 60)
            assert timing.first_frame + timing.overlap == previous.end_frame


def test_a_transition_that_would_start_before_the_previous_one_ends_is_moved_later():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 1.0), Shot(1, 0.2, "fade", 0.4), Shot(0, 1.0, "fade", 0.4)])
    timings = graph.segment_timings(plan)
    assert timings[2].first_frame >= timings[1].first_frame + timings[1].overlap
    assert timings[-1].end_frame == graph.output_frames(plan)


def test_hard_cuts_are_joined_by_concat_and_never_by_xfade():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 2.0), Shot(1, 2.0), Shot(0, 2.0, source_in=5.0)])
    text = filter_graph(command(plan))
    assert "xfade" not in text and "overlay" not in text
    # One concat takes the three shots whole, in order: each is its own seeked input's frames.
    concat = graph_part(text, "concat=n=3:v=1:a=0")
    assert [starts(writer(text, label)) for label in starts(concat)] == [["0:v"], ["1:v"], ["2:v"]]


def test_a_transition_no_lane_draws_is_an_xfade_of_exactly_the_overlapping_frames():
    text = filter_graph(command(mixed_plan("pixelize")))
    assert text.count("xfade=") == 1
    # Segment 2 gives its last 12 frames to the transition, segment 3 its first 12
    # (and, before the dip that follows it, its last 15).
    assert text.count("segment=frames=54[") == 1 and text.count("segment=frames=12|59[") == 1
    body_2, tail_2 = ends(graph_part(text, "segment=frames=54["))
    head_3, body_3, tail_3 = ends(graph_part(text, "segment=frames=12|59["))
    xfade = graph_part(text, "xfade=")
    assert "xfade=transition=pixelize:duration=0.400000:offset=0,format=yuv420p" in xfade
    assert starts(xfade) == [tail_2, head_3]


def test_a_transition_only_a_few_frames_long_is_drawn_as_a_crossfade():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 1.0), Shot(1, 1.0, "zoomin", 0.1)])
    text = filter_graph(command(plan))
    first = graph.segment_timings(plan)[1].first_frame
    assert "xfade" not in text and "perspective" not in text
    assert f"between(t,{(first - 0.5) / 30:.6f},{(first + 2.5) / 30:.6f})" in text
    assert "cr='255*(N/3)+0.5'" in text  # its mask: the incoming shot's weight, j/3 on its frame j


def test_every_zoomin_and_hblur_is_drawn_by_the_lanes_one_perspective_and_one_gblur_a_plane_kind():
    kinds = ["zoomin", "hblur", "zoomin", "hblur", "zoomin"]
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 1.5)] + [
        Shot(k % 2, 1.5, name, 0.4, source_in=2.0 * (k // 2)) for k, name in enumerate(kinds, 1)
    ])
    text = filter_graph(command(plan))
    windows = [(t.first_frame, t.overlap) for t in graph.segment_timings(plan)[1:]]
    zooms = [w for w, name in zip(windows, kinds) if name == "zoomin"]
    blurs = [w for w, name in zip(windows, kinds) if name == "hblur"]
    assert "xfade" not in text and text.count("maskedmerge=") == 1 and "blend" not in text
    assert text.count("perspective=") == 1
    assert text.count("gblur@joinluma=") == 1 and text.count("gblur@joinchroma=") == 1 and "avgblur" not in text
    # The zoom is on the main lane before the maskedmerge, told by `in`: output frame N is in = N + 1.
    perspective = graph_part(text, "perspective=")
    assert "sendcmd" not in perspective
    assert starts(_join_merge(text))[0] in ends(perspective)
    assert all(f"between(in,{a + 1},{a + n})*clip(1-2*(in-{a + 1})/{n},0,1)" in perspective for a, n in zooms)
    assert perspective.split("enable='")[1].split("'")[0] == "+".join(
        f"between(t,{(a - 0.5) / 30:.6f},{(a + n - 0.5) / 30:.6f})" for a, n in zooms
    )
    # A zoomin's crossfade shows the incoming shot only in its second half (its masks: 1 - smoothstep
    # of min(2P, 1), P = 1 - j/n); an hblur's is plain.
    a, n = zooms[0]
    assert f"lum='255*(st(0,clip(2-2*N/{n},0,1));1-ld(0)*ld(0)*(3-2*ld(0)))+0.5'" in text
    a, n = blurs[0]
    assert f"lum='255*(N/{n})+0.5'" in text
    # The blur follows the maskedmerge, from each hblur's second frame (on its first, xfade's box is 1 pixel).
    blur = graph_part(text, "gblur@joinluma=")
    assert blur.index("maskedmerge=") < blur.index("sendcmd=") < blur.index("gblur@joinluma=")
    assert "gblur@joinluma=sigma=0.01:sigmaV=0.01:steps=3:planes=1:" in blur  # sideways only: sigmaV 0 is black
    assert "gblur@joinchroma=sigma=0.01:sigmaV=0.01:steps=3:planes=6:" in blur
    assert f"enable='between(t,{(a + 0.5) / 30:.6f},{(a + n - 0.5) / 30:.6f})+" in blur
    # sigma is that of xfade's box of 1 + x pixels, x = 90 * (1 - |2P - 1|); chroma's is half luma's.
    x = f"trunc(90*(1-abs(2*(round(T*30)-{a})/{n}-1)))"
    assert f"[expr] gblur@joinluma sigma sqrt({x}*({x}+2)/12)/1+0.01" in blur
    assert f"[expr] gblur@joinchroma sigma sqrt({x}*({x}+2)/12)/2+0.01" in blur


def _join_merge(text: str) -> str:
    return graph_part(text, "maskedmerge=")


def _mask_lane(text: str) -> str:
    return writer(text, starts(_join_merge(text))[2])


def test_every_crossfade_dip_and_wipe_is_drawn_by_one_maskedmerge_enabled_only_on_their_frames():
    plan = mixed_plan()
    text = filter_graph(command(plan))
    timings = graph.segment_timings(plan)
    # No blend and no sendcmd: a command sent ahead of a two-input filter reaches it before the
    # frames it is meant for (they queue there while it waits for the other lane).
    assert text.count("maskedmerge=") == 1 and "blend" not in text and "sendcmd" not in text
    windows = [
        (t.first_frame, t.first_frame + t.overlap - 1)
        for seg, t in zip(plan.segments, timings) if seg.transition in ("fade", "fadeblack", "wipeleft")
    ]
    enable = _join_merge(text).split("enable='")[1].split("'")[0]
    # The dip is two windows (out, then in); together they cover the same frames.
    covered = set()
    for term in enable.split("+"):
        a, b = (float(v) * 30 for v in term[len("between(t,"):-1].split(","))
        covered |= set(range(round(a + 0.5), round(b + 0.5)))
    assert covered == {f for a, b in windows for f in range(a, b + 1)}


def test_a_crossfade_shows_the_incoming_head_through_the_outgoing_tail_from_zero():
    plan = mixed_plan()
    text = filter_graph(command(plan))
    first = graph.segment_timings(plan)[1].first_frame
    # The main lane carries segment 0's tail, the over lane segment 1's head, which the blend draws over it.
    head = ends(graph_part(text, "segment=frames=15["))[0]
    lane = reader(text, head)
    assert "concat=" in lane and starts(_join_merge(text))[1] in ends(lane)
    # The mask lane: a blank frame at 0, then the crossfade's 15 masks and a blank moved to its
    # output frames, each mask one value on every sample, the incoming head's weight j/15 on frame j.
    masks = _mask_lane(text)
    assert f"setpts='N+if(lt(N,1),0,if(lt(N,17),{first - 1}," in masks
    (piece,) = [writer(text, label) for label in starts(masks) if "loop=loop=14:" in writer(text, label)]
    assert "geq=lum='255*(N/15)+0.5':cb='255*(N/15)+0.5':cr='255*(N/15)+0.5'" in piece


def test_a_dip_to_black_fades_out_then_in_centred_on_its_cut():
    plan = mixed_plan()
    text = filter_graph(command(plan))
    first = graph.segment_timings(plan)[4].first_frame
    assert text.count("color=c=black") == 1 and "trim=end_frame=1" in text
    # 15 frames, centred on the cut as a crossfade is: the outgoing shot at 1 - 2j/15 on
    # frames j = 0..7, the incoming one at 2j/15 - 1 on frames 8..14, whole on frame 15.
    # The masks weigh the colour: 2j/15 on frames 0..7, then 1 - (2j - 15)/15.
    assert "lum='255*(2*N/15)+0.5'" in text
    assert "cb='255*(1-(2*(N+8)-15)/15)+0.5'" in text
    out_end = f"{(first + 7.5) / 30:.6f}"  # the out window ends where the in window starts
    assert f"between(t,{(first - 0.5) / 30:.6f},{out_end})+between(t,{out_end}," in text
    # On the main lane, the tail's first 8 frames, then the head's last 7.
    (tail_start,) = ends(graph_part(text, "trim=end_frame=8["))
    (head_end,) = ends(graph_part(text, "trim=start_frame=8,"))
    main = starts(reader(text, tail_start))
    assert main[main.index(tail_start) + 1] == head_end


def two_transitions(first: str, second: str) -> tuple[Plan, str]:
    """Three 1.5 s shots joined by two 0.4 s transitions: the plan and its filter graph."""
    plan = build_plan([CLIP_A, CLIP_B], SONG, [
        Shot(0, 1.5), Shot(1, 1.5, first, 0.4), Shot(0, 1.5, second, 0.4, source_in=4.0),
    ])
    return plan, filter_graph(command(plan))


def graph_part(text: str, needle: str) -> str:
    """The first chain of the filter graph that contains `needle`."""
    return next(part for part in chains(text) if needle in part)


def test_every_slide_is_drawn_by_one_overlay_moving_the_next_shot_in_from_its_side():
    plan, text = two_transitions("slideleft", "smoothup")
    assert "xfade" not in text and text.count("overlay=x=") == 1
    overlay = graph_part(text, "overlay=x=")
    first_left, first_up = (t.first_frame for t in graph.segment_timings(plan)[1:])
    assert f"*1*W*(1-(t*30-{first_left})/12)" in overlay  # from one width to the right, linearly
    assert f"*1*H*(1-((t*30-{first_up})/12*" in overlay  # from below, eased
    assert "eval=frame" in overlay


def test_every_wipe_is_drawn_by_one_maskedmerge_enabled_only_on_their_frames():
    plan, text = two_transitions("circleopen", "wipeleft")
    assert "xfade" not in text and text.count("maskedmerge") == 1
    merge = graph_part(text, "maskedmerge")
    windows = [(t.first_frame, t.overlap) for t in graph.segment_timings(plan)[1:]]
    assert merge.split("enable='")[1].split("'")[0] == "+".join(
        f"between(t,{(a - 0.5) / 30:.6f},{(a + n - 0.5) / 30:.6f})" for a, n in windows
    )


def test_the_mask_lane_has_a_blank_first_frame_then_each_wipe_at_its_own_output_frames():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [
        Shot(0, 1.5), Shot(1, 1.5, "circleopen", 0.4), Shot(0, 1.5, "radial", 0.4, source_in=4.0),
        Shot(1, 1.5, "circleclose", 0.4, source_in=4.0),
    ])
    text = filter_graph(command(plan))
    (a, frames_a), (b, frames_b), (c, frames_c) = ((t.first_frame, t.overlap) for t in graph.segment_timings(plan)[1:])
    lane = graph_part(text, "setpts='N+")
    # Lane frame 0 stays at 0; frames 1.. of the first wipe move to its first output frame, and so on;
    # each wipe is followed by a blank frame on the output frame after it.
    shifts = f"if(lt(N,1),0,if(lt(N,{2 + frames_a}),{a - 1},if(lt(N,{3 + frames_a + frames_b}),{b - 2 - frames_a},"
    assert f"setpts='N+{shifts}{c - 3 - frames_a - frames_b})))'" in lane
    assert "concat=n=7" in lane
    pieces = [writer(text, label) for label in starts(lane)]
    kinds = ["blank" if "geq=lum='0'" in p else p.split("loop=loop=")[1].split(":")[0] for p in pieces]
    assert kinds == ["blank", str(frames_a - 1), "blank", str(frames_b - 1), "blank", str(frames_c - 1), "blank"]
    assert "scale=180:320:flags=bilinear" in lane
    # One field per shape (both circles share theirs), computed once at no fewer than 136 samples across.
    fields = [part for part in text.split(";") if part.startswith("nullsrc=s=136x242")]
    assert len(fields) == 3 and sum("hypot(" in f for f in fields) == 1 and sum("atan2(" in f for f in fields) == 1
    masks = [part for part in chains(text) if "loop=loop=" in part and "geq=" in part]
    assert len(masks) == 3  # one loop of its field per wipe, each masked by its own expression


def test_a_fade_through_grey_greys_each_side_by_hue_before_they_are_crossfaded():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 1.5), Shot(1, 1.5, "fadegrays", 0.4)])
    text = filter_graph(command(plan))
    first = graph.segment_timings(plan)[1].first_frame
    assert "xfade" not in text and "lum='255*(N/12)+0.5'" in text
    hues = [part for part in text.split(";") if "hue=s=" in part]
    assert len(hues) == 2  # the outgoing side on the main lane, the incoming one on the over lane
    window = f"enable='between(t,{(first - 0.5) / 30:.6f},{(first + 11.5) / 30:.6f})'"
    assert all(window in hue for hue in hues)


def test_an_unknown_transition_is_refused_before_ffmpeg_runs():
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 2.0), Shot(1, 2.0, "spin", 0.5)])
    with pytest.raises(ValueError, match="spin"):
        command(plan)


@pytest.mark.parametrize("mode, expected", [
    (FILL, "crop=w=trunc(iw*0.316406/2)*2:h=ih,scale=180:320"),
    (LETTERBOX, "scale=180:102:flags=bilinear,pad=180:320:0:109:black"),
    (BLUR, "boxblur="),
])
def test_each_reframe_mode_fits_a_landscape_clip_into_the_portrait_frame(mode, expected):
    plan = build_plan([CLIP_A], SONG, [Shot(0, 2.0, reframe=mode)])
    text = filter_graph(command(plan))
    assert expected in text
    assert "setsar=1" in text


def test_a_fill_crop_sits_on_each_segments_focus_from_the_start_of_its_footage():
    plan = build_plan([CLIP_A], SONG, [Shot(0, 2.0, source_in=1.0), Shot(0, 2.0, source_in=3.0)])
    framed = replace(plan, segments=tuple(replace(s, focus_x=x) for s, x in zip(plan.segments, (0.8, 0.25))))
    text = filter_graph(command(framed))
    # One seeked input from 1 s: the second segment's footage starts 2 s into it.
    assert text.count("crop=") == 1
    assert "crop=w=trunc(iw*0.316406/2)*2:h=ih:x='max(0,min(iw-ow,(if(lt(t,2),0.8,0.25))*iw-ow/2))'" in text


def test_a_centred_fill_crop_and_a_portrait_clips_vertical_crop():
    centred = build_plan([CLIP_A], SONG, [Shot(0, 2.0)])
    assert ":x=" not in filter_graph(command(centred))
    wide = build_plan([CLIP_B], SONG, [Shot(0, 2.0)], width=320, height=180)
    framed = replace(wide, segments=(replace(wide.segments[0], focus_y=0.7),))
    assert "crop=w=iw:h=trunc(ih*0.316406/2)*2:y='max(0,min(ih-oh,(0.7)*ih-oh/2))'" in filter_graph(command(framed))


def test_a_photo_is_cropped_once_at_its_focus():
    plan = build_plan([PHOTO], SONG, [Shot(0, 2.0), Shot(0, 2.0)])
    framed = replace(plan, segments=tuple(replace(s, focus_x=0.3) for s in plan.segments))
    text = filter_graph(command(framed))
    assert text.count("crop=") == 1
    assert ":x='max(0,min(iw-ow,(0.3)*iw-ow/2))'" in text


def test_a_focus_outside_the_picture_is_refused():
    plan = build_plan([CLIP_A], SONG, [Shot(0, 2.0)])
    with pytest.raises(ValueError, match="framed outside"):
        command(replace(plan, segments=(replace(plan.segments[0], focus_x=1.5),)))


def test_two_input_filters_do_not_repeat_a_last_frame_their_inputs_never_need():
    # Both inputs of these end together; repeatlast=1 held about 9 MB per overlay in ffmpeg 5.1.
    plan = build_plan([CLIP_A, CLIP_B], SONG, [
        Shot(0, 2.0, reframe=BLUR), Shot(1, 2.0, "fade", 0.5), Shot(0, 2.0, "slideleft", 0.5, source_in=2.5),
    ])
    text = filter_graph(command(plan))
    overlays = [part for part in text.split(";") if "overlay=" in part]
    assert len(overlays) == 2  # the blurred fit's and the slide's
    assert all("repeatlast=0" in part for part in overlays)
    # Not the maskedmerge: its mask lane ends with the blank after the last window, held to the end.
    assert "repeatlast" not in _join_merge(text)


def test_a_clip_already_the_right_shape_is_only_scaled():
    plan = build_plan([CLIP_B], SONG, [Shot(0, 2.0, reframe=BLUR)])
    text = filter_graph(command(plan))
    assert "boxblur" not in text and "crop=" not in text
    assert "scale=180:320" in text


def test_non_square_pixels_are_reframed_from_the_display_size():
    anamorphic = clip_info("/media/c.mp4", 214, 180, 5.0, sar=2 / 3)  # stored 320x180 at 2:3
    plan = build_plan([anamorphic], SONG, [Shot(0, 2.0, reframe=LETTERBOX)])
    text = filter_graph(command(plan))
    assert "scale=180:152" in text  # 214:180 fitted into 180 wide, whatever the stored width
    assert "pad=180:320:0:84:black" in text


def test_a_letterboxing_style_colours_each_picture_before_its_bars_and_the_frame_after_the_join():
    style = make_style(reframe=LETTERBOX, grade=Grade(contrast=1.2, vignette=0.5, grain=8))
    plan = build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 2.0, reframe=LETTERBOX), Shot(1, 2.0, reframe=LETTERBOX)])
    text = filter_graph(command(plan, style))
    assert text.count("eq=contrast=1.2") == 2  # one per clip
    assert text.index("eq=contrast=1.2") < text.index("pad=")
    joined = text[text.index("concat=n="):]
    assert "eq=" not in joined
    assert "vignette=" in joined and "noise=" in joined


def _tone_mapped_chain(text: str, marker: str) -> str:
    return next(part for part in text.split(";") if marker in part)


def test_only_an_hdr_clip_is_tone_mapped_once_its_unused_frames_are_dropped_and_it_is_scaled_down():
    hdr = clip_info("/media/hlg.mov", 1920, 1080, 20.0, hdr="hlg")
    plan = build_plan([CLIP_A, hdr], SONG, [
        Shot(1, 2.0, source_in=1.0), Shot(0, 2.0, "fade", 0.5), Shot(1, 2.0, CUT, source_in=4.0),
    ])
    args = command(plan)
    text = filter_graph(args)
    assert text.count("colorspace=") == 1
    chain = _tone_mapped_chain(text, "colorspace=")
    hdr_input = [path for _, path in inputs(args)].index("/media/hlg.mov")
    assert chain.startswith(f"[{hdr_input}:v]")
    # The 1920x1080 picture is cropped and scaled to 180x320 first, keeping its 10 bits.
    assert chain.index("select=") < chain.index("crop=") < chain.index(
        "scale=180:320:flags=bilinear,format=yuv420p10le,colorspace=all=bt709:iall=bt2020:itrc=bt2020-10:format=yuv420p"
    )


def test_an_hdr_clip_scaled_up_is_tone_mapped_before_it_is_scaled():
    small = clip_info("/media/hlg.mov", 160, 90, 20.0, hdr="hlg")
    text = filter_graph(command(build_plan([small], SONG, [Shot(0, 2.0)])))
    chain = _tone_mapped_chain(text, "colorspace=")
    assert chain.index("colorspace=all=bt709") < chain.index("crop=") < chain.index("scale=180:320")
    assert "yuv420p10le" not in chain


def test_a_blurred_fit_makes_its_background_from_the_tone_mapped_picture():
    hdr = clip_info("/media/hlg.mov", 1920, 1080, 20.0, hdr="hlg")
    text = filter_graph(command(build_plan([hdr], SONG, [Shot(0, 2.0, reframe=BLUR)])))
    chain = _tone_mapped_chain(text, "colorspace=")
    assert chain.index("scale=180:102") < chain.index("colorspace=") < chain.index("split")


def test_a_pq_clip_is_tone_mapped_through_linear_light():
    pq = clip_info("/media/pq.mov", 1920, 1080, 20.0, hdr="pq")
    text = filter_graph(command(build_plan([pq], SONG, [Shot(0, 2.0)])))
    chain = _tone_mapped_chain(text, "tonemap=")
    assert chain.index("format=yuv420p10le,zscale=tin=smpte2084:min=bt2020nc:pin=bt2020:t=linear") < chain.index(
        "tonemap=tonemap=hable"
    )
    assert chain.index("zscale=t=bt709:m=bt709:r=tv,format=yuv420p") < chain.index("tpad=")


def test_the_video_is_graded_once_after_the_join():
    style = make_style(grade=Grade(contrast=1.2, vignette=0.5))
    text = filter_graph(command(mixed_plan(), style))
    assert text.count("eq=contrast=1.2") == 1
    assert text.index("concat=n=") < text.index("eq=contrast=1.2")


def test_the_final_streams_are_mapped_and_encoded_to_the_output_spec():
    args = command(mixed_plan())
    assert args[-1] == "/out/edit.mp4" and option(args, "-f") == "mp4"
    maps = [args[i + 1] for i, a in enumerate(args) if a == "-map"]
    assert maps == ["[vout]", "[aout]"]
    assert option(args, "-c:v") == "libx264" and option(args, "-profile:v") == "high"
    assert option(args, "-pix_fmt") == "yuv420p" and option(args, "-r") == "30"
    assert (option(args, "-b:v"), option(args, "-maxrate"), option(args, "-bufsize")) == ("6M", "8M", "12M")
    assert option(args, "-c:a") == "aac" and option(args, "-b:a") == "192k"
    assert (option(args, "-ar"), option(args, "-ac")) == ("48000", "2")
    assert option(args, "-movflags") == "+faststart"
    assert option(args, "-map_metadata") == "-1"


def test_x264_looks_five_frames_ahead_without_a_b_pyramid_one_frame_thread_per_usable_core(monkeypatch):
    monkeypatch.setattr(graph.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert option(command(mixed_plan()), "-x264-params") == "rc-lookahead=5:b-pyramid=none:threads=3"


def test_a_low_memory_render_has_x264_share_each_frame_between_its_threads(monkeypatch):
    monkeypatch.setattr(graph.os, "sched_getaffinity", lambda pid: {0, 1})
    args = graph.build_command(mixed_plan(), "/out/x.mp4", style=make_style(), low_memory=True)
    assert option(args, "-x264-params") == "rc-lookahead=5:b-pyramid=none:threads=2:sliced-threads=1"


def test_the_music_is_seeked_to_the_window_normalised_and_cut_to_the_exact_length():
    plan = replace(mixed_plan(), music_start=42.0, music_end=52.0)
    args = command(plan)
    options, path = inputs(args)[-1]
    assert path == "/media/song.wav" and float(option(options, "-ss")) == 42.0 and "-vn" in options
    text = filter_graph(args)
    assert "loudnorm=I=-14:TP=-1.5:LRA=11" in text
    assert "afade=t=in:st=0:d=0.300000" in text and "afade=t=out:st=9.000000:d=1.000000" in text
    assert text.endswith("apad=whole_len=480000,atrim=end_sample=480000,asetpts=PTS-STARTPTS[aout]")


def test_a_measured_music_gain_is_applied_as_a_plain_gain_under_a_peak_limiter():
    text = filter_graph(command(replace(mixed_plan(), music_gain_db=7.5)))
    assert "volume=7.5dB,alimiter=limit=0.841395:level=0" in text
    assert "loudnorm" not in text


def test_the_clips_own_sound_is_mixed_under_the_music_only_when_the_style_asks():
    quiet = command(mixed_plan())
    assert "amix" not in filter_graph(quiet)
    assert all("-an" in o for o, p in inputs(quiet) if p.endswith(".mp4"))

    style = make_style(audio=AudioTreatment(clip_volume=0.3, lowpass_hz=9000, bass_gain_db=3))
    args = command(mixed_plan(), style)
    text = filter_graph(args)
    sound_inputs = [o for o, p in inputs(args) if p == "/media/a.mp4" and "-vn" in o]
    assert len(sound_inputs) == 2  # clip A's two runs; clip B has no sound
    assert "volume=0.3" in text and "amix=inputs=2:normalize=0" in text
    assert text.count("anullsrc") == 3  # clip B's shot and both photo shots are silent
    assert "lowpass=f=9000" in text and "bass=g=3" in text


# ---------------------------------------------------------------- the graph builder (filtertext.Graph)


def test_the_graph_writes_its_own_labels_and_one_chain_per_run_of_single_filters():
    from media_pipeline import filtertext as ft

    g = ft.Graph()
    clip = g.input("/media/a.mp4", ["-t", "1"])
    left, right = clip.video.then("scale=180:320").fan("split=2", outputs=2)
    both = g.join([left.then("hflip"), right], "hstack", "format=yuv420p")
    assert g.text({"vout": both}) == (
        "[0:v]scale=180:320,split=2[s0][s1];[s0]hflip[s2];[s2][s1]hstack,format=yuv420p[vout]"
    )
    assert g.input_args() == ["-t", "1", "-i", "/media/a.mp4"]


def test_a_stream_used_twice_or_never_is_refused_before_ffmpeg_sees_it():
    from media_pipeline import filtertext as ft

    g = ft.Graph()
    video = g.input("/media/a.mp4", []).video.then("null")
    g.join([video], "hflip")
    g.join([video], "vflip")
    with pytest.raises(ValueError, match="twice"):
        g.text({})
    unused = ft.Graph()
    unused.source("color=c=black")
    with pytest.raises(ValueError, match="never used"):
        unused.text({})


def test_filter_options_holding_commas_colons_or_spaces_are_quoted():
    from media_pipeline import filtertext as ft

    assert ft.f("overlay", x="if(lt(t,1),0,W)", y=0, eval="frame") == "overlay=x='if(lt(t,1),0,W)':y=0:eval=frame"
    assert ft.f("sendcmd", c="0-1 [expr] blend c0_opacity 1") == "sendcmd=c='0-1 [expr] blend c0_opacity 1'"
    with pytest.raises(ValueError):
        ft.f("hue", s="it's")
