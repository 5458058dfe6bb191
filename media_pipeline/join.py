"""Joining the segments: hard cuts, and every transition drawn from just the frames it overlaps.

A segment with transitions is cut (segment filter) into head | body | tail, and
every output frame comes from the main lane, one concat of body 0, tail 0,
body 1, ... A second, "over" lane holds the incoming heads during transitions and
a repeated filler frame elsewhere. One filter of each kind draws the over lane
onto the main lane, enabled only inside the windows of its transitions, so
frames between transitions pass through untouched:

- one maskedmerge draws every crossfade, dip, fade through grey and wipe
  (circles, radial, bars, diagonals, slices) through a third lane of masks,
  computed at an eighth of the size and scaled up: a crossfade's or dip's mask
  is one value, the incoming side's weight, on every sample (a dip's over lane
  holds one black or white frame);
- one overlay moves the incoming picture in for every slide;
- one hue drains the colour out and back for fades through grey;
- one perspective zooms the outgoing picture in for every zoomin (the maskedmerge
  then crossfades from it, faster than for a plain crossfade);
- one gblur (and one for the chroma planes) blurs every hblur's crossfade
  sideways (sendcmd sets its size frame by frame, right before it).

Everything that changes from frame to frame is told by the frame itself: its
time (overlay, hue, the filters' enable), its count (perspective's `in`) or a
mask frame of the same time (maskedmerge). Never by a command sent ahead of a
two-input filter: such a filter queues one lane's frames while it waits for the
other (in a real render the main lane runs 15 or more frames ahead whenever the
incoming shot is further on in the same clip), and sendcmd, which acts when a
frame passes it, would have sent a whole window's commands before the filter
drew its first frame (a blend's opacity set so drew every crossfade at its last
opacity: a cut).

Only a transition without a lane drawing (pixelize, squeezeh, ...; no style uses
one) is an xfade, one per transition. ffmpeg 5.1 keeps every filter's frame buffers until
the render ends, so a filter per transition costs memory per transition (an
xfade the most: it has no 4:2:0 mode, so both sides go to 4:4:4 and back),
where a lane filter is a fixed cost for the whole edit (figures:
benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from . import filtertext as ft
from .filtertext import Stream
from .plan import Plan
from .timing import SegmentTiming, output_frames

# Every xfade name a plan may use; the lanes draw most of them (below), xfade the rest.
TRANSITIONS = frozenset(
    "fade wipeleft wiperight wipeup wipedown slideleft slideright slideup slidedown circlecrop "
    "rectcrop distance fadeblack fadewhite radial smoothleft smoothright smoothup smoothdown "
    "circleopen circleclose vertopen vertclose horzopen horzclose dissolve pixelize diagtl diagtr "
    "diagbl diagbr hlslice hrslice vuslice vdslice hblur fadegrays wipetl wipetr wipebl wipebr "
    "squeezeh squeezev zoomin fadefast fadeslow".split()
)

# "dissolve" is done as the soft cross-dissolve editors mean by it (and the styles'
# descriptions promise), not xfade's pixel-noise dissolve, which costs many times more.
CROSSFADES = frozenset({"fade", "dissolve"})
DIPS = {"fadeblack": "black", "fadewhite": "white"}
GREYS = frozenset({"fadegrays"})
# xfade's zoomin and hblur: a crossfade of the outgoing picture zoomed in, and a
# crossfade blurred sideways.
ZOOMS = frozenset({"zoomin"})
BLURS = frozenset({"hblur"})

# Slides: the value is (x, y) of the incoming picture's starting offset in frame
# widths and heights. xfade's smooth* wipes are drawn as eased slides.
SLIDES: dict[str, tuple[int, int]] = {
    "slideleft": (1, 0), "slideright": (-1, 0), "slideup": (0, 1), "slidedown": (0, -1),
    "smoothleft": (1, 0), "smoothright": (-1, 0), "smoothup": (0, 1), "smoothdown": (0, -1),
}
EASED = frozenset({"smoothleft", "smoothright", "smoothup", "smoothdown"})


@dataclass(frozen=True)
class Wipe:
    """A wipe as a field over the frame and a mask computed from it, frame by frame.

    `field` is a function of the output pixel ({x}, {y}) of a {w}x{h} frame,
    between `low` and `high`; `mask` is the incoming picture's weight (0..1) as a
    function of the field's value {d} and xfade's progress {p} (1 on the window's
    first frame, falling to 1/n on its last). The formulas are xfade's own.
    ss(v) is smoothstep(0, 1, v); slice(v) is xfade's ten bars opening as an
    edge moves along v.
    """

    field: str
    mask: str
    low: float = 0.0
    high: float = 1.0


_CENTRE_DISTANCE = "hypot({x}-{w}/2,{y}-{h}/2)/hypot({w}/2,{h}/2)"
_SIDEWAYS = "abs({x}-{w}/2)/({w}/2)"
_UPRIGHT = "abs({y}-{h}/2)/({h}/2)"
WIPES: dict[str, Wipe] = {
    "circleopen": Wipe(_CENTRE_DISTANCE, "1-ss({d}+({p}-0.5)*3)"),
    "circleclose": Wipe(_CENTRE_DISTANCE, "ss({d}+(0.5-{p})*3)"),
    "radial": Wipe("atan2({x}-{w}/2,{y}-{h}/2)", "ss({d}-({p}-0.5)*%.6f)" % (2.5 * math.pi), -math.pi, math.pi),
    "vertopen": Wipe(_SIDEWAYS, "ss(2-{d}-2*{p})"),
    "vertclose": Wipe(_SIDEWAYS, "ss(1+{d}-2*{p})"),
    "horzopen": Wipe(_UPRIGHT, "ss(2-{d}-2*{p})"),
    "horzclose": Wipe(_UPRIGHT, "ss(1+{d}-2*{p})"),
    "diagtl": Wipe("{x}/{w}*{y}/{h}", "ss(1+{d}-2*{p})"),
    "diagtr": Wipe("({w}-1-{x})/{w}*{y}/{h}", "ss(1+{d}-2*{p})"),
    "diagbl": Wipe("{x}/{w}*({h}-1-{y})/{h}", "ss(1+{d}-2*{p})"),
    "diagbr": Wipe("({w}-1-{x})/{w}*({h}-1-{y})/{h}", "ss(1+{d}-2*{p})"),
    "wipeleft": Wipe("{x}/{w}", "gt({d},{p})"),
    "wiperight": Wipe("{x}/{w}", "lte({d},1-{p})"),
    "wipeup": Wipe("{y}/{h}", "gt({d},{p})"),
    "wipedown": Wipe("{y}/{h}", "lte({d},1-{p})"),
    "hlslice": Wipe("{x}/{w}", "slice({d})"),
    "hrslice": Wipe("({w}-1-{x})/{w}", "slice({d})"),
    "vuslice": Wipe("{y}/{h}", "slice({d})"),
    "vdslice": Wipe("({h}-1-{y})/{h}", "slice({d})"),
}
# Masks are smooth: drawn at an eighth of the size and scaled up, they look the
# same, but no fewer than 136 samples across, so xfade's ten bars stay sharp.
MASK_DOWNSCALE = 8
MIN_MASK_SAMPLES = 136

# Below this many frames a zoom, blur or pixelize cannot be told from a quick
# crossfade (and an xfade costs far more memory than a crossfade).
MIN_XFADE_FRAMES = 4

# The gblurs of hblurs, luma's and the chroma planes', each with its share of luma's sigma.
_JOIN_BLURS = {"gblur@joinluma": 1, "gblur@joinchroma": 2}
_NO_BLUR = 0.01  # a sigma that blurs nothing: 0 makes gblur 5.1 draw black

# The smallest zoom window (a share of the frame) perspective is given: at xfade's
# zero the four corners would meet and its transform would have no inverse.
MIN_ZOOM = 0.002


def drawn_as(name: str, frames: int) -> str:
    """The transition actually drawn: a zoom, blur or other xfade only a few frames long is shown as a crossfade."""
    return "fade" if frames < MIN_XFADE_FRAMES and not _exact(name) else name


def dip_out_frames(frames: int) -> int:
    """How many of a dip's frames show the outgoing picture fading: the first half, the middle one included."""
    return (frames + 1) // 2 if frames > 1 else 0


def _exact(name: str) -> bool:
    """Whether `name` is drawn as itself however short: crossfades, dips, wipes and slides."""
    return name in DIPS or name in CROSSFADES or name in SLIDES or name in WIPES or name in GREYS


def _over_lane(name: str) -> bool:
    """Whether the over lane draws `name` with the incoming shot's head (dips use a colour instead)."""
    return (_exact(name) and name not in DIPS) or name in ZOOMS or name in BLURS


def join_segments(plan: Plan, timings: tuple[SegmentTiming, ...], segments: list[Stream]) -> Stream:
    """All segments (their streams, in order) joined by cuts and transitions into one stream."""
    main: list[Stream] = []
    over = _OverLane()
    previous_tail: Stream | None = None
    for i, (timing, segment) in enumerate(zip(timings, segments)):
        outgoing = timings[i + 1].overlap if i + 1 < len(timings) else 0
        head, body, tail = _cut_segment(segment, timing, outgoing)
        name = drawn_as(plan.segments[i].transition, timing.overlap)
        if head and name in DIPS:
            out_frames = dip_out_frames(timing.overlap)
            main.append(previous_tail.then(f"trim=end_frame={out_frames}"))
            main.append(head.then(f"trim=start_frame={out_frames}", "setpts=PTS-STARTPTS"))
            over.add_dip(timing.first_frame, DIPS[name], timing.overlap, out_frames)
        elif head and _over_lane(name):
            main.append(previous_tail)
            over.add(timing.first_frame, head, timing.overlap, name)
        elif head:
            main.append(_xfade(name, previous_tail, head, timing.overlap, plan.fps))
        if body:
            main.append(body)
        previous_tail = tail
    # Renumbering after concat makes every timestamp exactly frame / fps.
    joined = segments[0].graph.join(main, f"concat=n={len(main)}:v=1:a=0", _renumber(plan))
    return over.draw(plan, output_frames(plan), joined) if over.used else joined


def _renumber(plan: Plan) -> str:
    return f"settb=1/{plan.fps},setpts=N"


@dataclass(frozen=True)
class _Window:
    """Output frames [first, first + frames) where the over lane is drawn onto the main lane."""

    first: int
    frames: int
    mix: str = ""  # maskedmerge, a uniform mask: the incoming side's weight, an expression of {j}, the window's frame
    slide: tuple[int, int] = (0, 0)  # overlay: where the incoming picture starts, in frame widths and heights
    eased: bool = False
    wipe: Wipe | None = None  # maskedmerge: how the incoming picture is revealed


@dataclass
class _OverLane:
    """The second lane of the join: incoming heads, a colour for dips, a filler frame elsewhere.

    Fillers and dip colours are one frame each, repeated by loop, so the lane
    costs three frames of memory however many transitions the edit has.
    """

    pieces: list[tuple[Stream | str, int]] = field(default_factory=list)  # (a head, or a colour; frames), in order
    merges: list[_Window] = field(default_factory=list)  # crossfades, dips and wipes: maskedmerge's windows, in order
    slides: list[_Window] = field(default_factory=list)
    greys: list[_Window] = field(default_factory=list)
    zooms: list[_Window] = field(default_factory=list)
    blurs: list[_Window] = field(default_factory=list)
    _at: int = 0  # output frames the lane covers so far

    @property
    def used(self) -> bool:
        return bool(self.merges or self.slides)

    def add(self, first: int, head: Stream, frames: int, name: str) -> None:
        """A crossfade, wipe, slide, zoom, blur or fade through grey; on its first frame the head does not show yet, as in xfade."""
        self._fill(first)
        self.pieces.append((head, frames))
        self._at += frames
        if name in SLIDES:
            self.slides.append(_Window(first, frames, slide=SLIDES[name], eased=name in EASED))
        elif name in WIPES:
            self.merges.append(_Window(first, frames, wipe=WIPES[name]))
        elif name in ZOOMS:
            # xfade shows the zoomed outgoing picture at smoothstep(0, 0.5, P), all of it in the
            # first half: the incoming one at 1 - smoothstep of min(2P, 1), held in register 0.
            half = f"st(0,clip(2-2*{{j}}/{frames},0,1))"
            self.merges.append(_Window(first, frames, mix=f"{half};1-ld(0)*ld(0)*(3-2*ld(0))"))
            self.zooms.append(_Window(first, frames))
        else:
            self.merges.append(_Window(first, frames, mix=f"{{j}}/{frames}"))
            if name in GREYS:
                self.greys.append(_Window(first, frames))
            if name in BLURS:
                self.blurs.append(_Window(first, frames))

    def add_dip(self, first: int, colour: str, frames: int, out_frames: int) -> None:
        """A dip: the outgoing picture fades to `colour` over out_frames, then the incoming one from it.

        Centred on the window as a crossfade is: the window's first frame is still
        all outgoing picture, the frame after it all incoming, and the colour is
        reached half-way (on the middle frame, or between the two middle ones),
        which is the plan's cut. Frame j of the n shows the outgoing picture at
        1 - 2j/n, then the incoming one at 2j/n - 1 (the colour making up the rest).
        """
        self._fill(first)
        self.pieces.append((colour, frames))
        self._at += frames
        in_frames = frames - out_frames
        if out_frames:
            self.merges.append(_Window(first, out_frames, mix=f"2*{{j}}/{frames}"))
        colour = f"1-(2*({{j}}+{out_frames})-{frames})/{frames}" if frames > 1 else "1"
        self.merges.append(_Window(first + out_frames, in_frames, mix=colour))

    def _fill(self, until: int) -> None:
        if until > self._at:
            self.pieces.append(("black", until - self._at))
            self._at = until

    def draw(self, plan: Plan, total: int, main: Stream) -> Stream:
        """The lane, built and drawn onto `main` by one filter per kind of transition."""
        self._fill(total)
        graph = main.graph
        lane: dict[int, Stream] = {k: piece for k, (piece, _) in enumerate(self.pieces) if isinstance(piece, Stream)}
        for colour in sorted({piece for piece, _ in self.pieces if isinstance(piece, str)}):
            uses = [k for k, (piece, _) in enumerate(self.pieces) if piece == colour]
            frame = graph.source(
                f"color=c={colour}:s={plan.width}x{plan.height}:r={plan.fps}", "format=yuv420p", "setsar=1",
                "trim=end_frame=1",
            )
            for k, copy in zip(uses, frame.copies(len(uses))):
                lane[k] = copy.then(f"loop=loop={self.pieces[k][1] - 1}:size=1")
        kinds = sum(1 for windows in (self.merges, self.slides) if windows)
        joined = graph.join([lane[k] for k in range(len(lane))], f"concat=n={len(lane)}:v=1:a=0", _renumber(plan))
        overs = iter(joined.copies(kinds))
        # Each stage draws one kind of transition onto the main lane, in turn.
        current = main
        if self.merges:
            over = next(overs)
            if self.greys:
                over = over.then(self._greys(plan.fps, outgoing=False))
                current = current.then(self._greys(plan.fps, outgoing=True))
            if self.zooms:
                current = current.then(self._zoom(plan.fps))
            masks = self._mask_lane(plan, total, graph)
            current = graph.join([current, over, masks], ft.f("maskedmerge", enable=_enable(self.merges, plan.fps)))
            if self.blurs:
                current = current.then(*self._blur(plan))
        if self.slides:
            x, y = self._position("W", 0, plan.fps), self._position("H", 1, plan.fps)
            slide = ft.f("overlay", x=x, y=y, eval="frame", **ft.NO_REPEAT, enable=_enable(self.slides, plan.fps))
            current = graph.join([current, next(overs)], slide, "format=yuv420p")
        return current

    def _greys(self, fps: int, *, outgoing: bool) -> str:
        """One side of every fade through grey loses its colour, as in xfade.

        The outgoing picture greys over the window's first fifth; the incoming one
        regains its colour over the rest.
        """
        terms = []
        for w in self.greys:
            progress = f"(1-(t*{fps}-{w.first})/{w.frames})"
            step = _smoothstep(0.8, 1.0, progress) if outgoing else f"(1-{_smoothstep(0.2, 1.0, progress)})"
            terms.append(f"{_within(w, fps)}*{step}")
        return ft.f("hue", s="+".join(terms), enable=_enable(self.greys, fps))

    def _zoom(self, fps: int) -> str:
        """One perspective zooming the outgoing picture in, to its centre, over each zoomin's first half.

        As in xfade, frame j of n shows the centred part zf = smoothstep(0.5, 1, P)
        of the picture (P = 1 - j/n), magnified to the frame. perspective knows
        no time, only `in`, the frames it has taken in so far: on the main lane,
        renumbered from 0, frame N's `in` is N + 1.
        """
        terms = []
        for w in self.zooms:
            half = f"clip(1-2*(in-{w.first + 1})/{w.frames},0,1)"  # smoothstep's argument: 2P - 1, clipped
            terms.append(f"between(in,{w.first + 1},{w.first + w.frames})*{half}")
        # st/ld: the window's term is worked out once per corner, not three times.
        zoom = f"max({ft.num(MIN_ZOOM)},ld(0)*ld(0)*(3-2*ld(0)))"
        corners = {
            f"{axis}{k}": f"st(0,{'+'.join(terms)});{size}*(1{sign}{zoom})/2"
            for k, (x_sign, y_sign) in enumerate((("-", "-"), ("+", "-"), ("-", "+"), ("+", "+")))
            for axis, size, sign in (("x", "W", x_sign), ("y", "H", y_sign))
        }
        return ft.f("perspective", **corners, interpolation="linear", sense="source", eval="frame",
                    enable=_enable(self.zooms, fps))

    def _blur(self, plan: Plan) -> tuple[str, ...]:
        """sendcmd and gblur blurring each hblur's crossfade sideways, most at its middle.

        xfade averages a box of 1 + x pixels in every plane at 4:4:4, x = W/2 * prog,
        prog = 1 - |2P - 1| (so none on the window's first frame). gblur is given
        the Gaussian of the same spread, sigma = sqrt(((1 + x)^2 - 1) / 12) (the
        chroma planes, half as wide, half that), and no vertical blur: its sigmaV
        of 0 makes a black picture in ffmpeg 5.1, 0.01 none. avgblur would be a
        box, but holds several times gblur's memory (benchmarks/README.md, "Figures
        behind the render's settings") and cannot keep rows apart (its least
        vertical blur is 3 rows). Three steps make gblur's Gaussian closer to a
        box, on blurred frames only. The window's frame
        is found by its time, T; the sigmas are written without commas, as
        sendcmd splits its commands at them. sendcmd is right before the gblurs,
        in one chain: each frame reaches them with its own sigma (forcing one
        frame's sigma in a real render changed that output frame and no other),
        unlike a command sent ahead of a filter that queues frames for two inputs.
        """
        intervals = []
        for w in self.blurs:
            j = f"(round(T*{plan.fps})-{w.first})"
            x = f"trunc({plan.width // 2}*(1-abs(2*{j}/{w.frames}-1)))"
            sigma = f"sqrt({x}*({x}+2)/12)"
            commands = [f"[expr] {name} sigma {sigma}/{share}+{ft.num(_NO_BLUR)}" for name, share in _JOIN_BLURS.items()]
            start, end = ft.time((w.first + 0.5) / plan.fps), ft.time((w.first + w.frames - 0.5) / plan.fps)
            intervals.append(f"{start}-{end} {', '.join(commands)}")
        # From each window's second frame: on the first, xfade's box is one pixel wide.
        enable = _enable([_Window(w.first + 1, w.frames - 1) for w in self.blurs], plan.fps)
        blurs = [
            ft.f(name, sigma=_NO_BLUR, sigmaV=_NO_BLUR, steps=3, planes=planes, enable=enable)
            for name, planes in zip(_JOIN_BLURS, (1, 6))
        ]
        return (ft.f("sendcmd", c=";".join(intervals)), *blurs)

    def _position(self, size: str, axis: int, fps: int) -> str:
        """The overlay's x (or y) for every slide window: from size * start to 0, eased or not."""
        terms = []
        for w in self.slides:
            if w.slide[axis] == 0:
                continue
            progress = f"(t*{fps}-{w.first})/{w.frames}"
            if w.eased:
                progress = f"({progress}*{progress}*(3-2*{progress}))"
            terms.append(f"{_within(w, fps)}*{w.slide[axis]}*{size}*(1-{progress})")
        return "+".join(terms) or "0"

    def _mask_lane(self, plan: Plan, total: int, graph: ft.Graph) -> Stream:
        """One small frame per merged frame, at its output time, scaled up; a blank frame before each window.

        The lane has frames only where wipes, crossfades and dips are, and a
        blank one at 0 and on the frame after each window (unless another
        starts there or the video ends): maskedmerge keeps using the last frame
        until the next one, and between windows that must be a blank. Its
        enable is evaluated at the time of the last frame it took in on any input, and to learn that the current
        mask still holds it reads the next one ahead, the next wipe's first: so
        a frame between wipes can be drawn as if enabled, and with the last mask
        of a finished wipe it showed the over lane's black filler instead of the
        shot: a one-frame flash after a wipe that another wipe follows. Each
        wipe's field is computed once, on one small frame, and each mask from it
        with a short expression: geq's cost grows with the expression, per sample.
        A crossfade's or dip's masks are a blank frame, repeated, and given the
        incoming side's weight on every sample (maskedmerge weighs by mask/256:
        a mask of 255 is within a level of the incoming picture). The masks are
        frames with their own times, drawn with the main lane's frame of the
        same time however far ahead that lane runs (their cost against the blend
        they replaced: benchmarks/README.md, "Figures behind the render's settings").
        """
        scale = min(1.0, max(1 / MASK_DOWNSCALE, MIN_MASK_SAMPLES / min(plan.width, plan.height)))
        width, height = ft.even(plan.width * scale), ft.even(plan.height * scale)
        source = (f"nullsrc=s={width}x{height}:r={plan.fps}", "format=yuv420p", "trim=end_frame=1")
        # The lane's pieces in order: (the wipe's number from 1, or 0 for a blank frame; frames; first output frame).
        pieces: list[tuple[int, int, int]] = [(0, 1, 0)]
        windows = self.merges
        for j, w in enumerate(windows, 1):
            pieces.append((j, w.frames, w.first))
            after = w.first + w.frames
            if after < (windows[j].first if j < len(windows) else total):
                pieces.append((0, 1, after))
        uniform = [j for j, w in enumerate(windows, 1) if w.wipe is None]
        blanks = iter(graph.source(*source, _geq("0")).copies(sum(1 for j, _, _ in pieces if not j) + len(uniform)))
        # Wipes of the same shape share one field; a crossfade or dip starts from a blank.
        users: dict[str, list[int]] = {}
        for j, w in enumerate(windows, 1):
            if w.wipe is not None:
                users.setdefault(_field_expression(w.wipe, plan, width, height), []).append(j)
        fields: dict[int, Stream] = {j: next(blanks) for j in uniform}
        for field_text, uses in sorted(users.items()):
            fields.update(zip(uses, graph.source(*source, _geq(field_text)).copies(len(uses))))
        masks = {
            j: fields[j].then(f"loop=loop={w.frames - 1}:size=1", _geq(_mask_expression(w)))
            for j, w in enumerate(windows, 1)
        }
        # N counts the lane's frames; each piece is moved to its window's output frames.
        shifts, at = [], 0
        for _, frames, first in pieces:
            if not shifts or shifts[-1][1] != first - at:  # a blank right after its wipe moves with it
                shifts.append((at, first - at))
            at += frames
        shift = str(shifts[-1][1])
        for (_, offset), (next_start, _) in reversed(list(zip(shifts, shifts[1:]))):
            shift = f"if(lt(N,{next_start}),{offset},{shift})"
        return graph.join(
            [masks[j] if j else next(blanks) for j, _, _ in pieces],
            f"concat=n={len(pieces)}:v=1:a=0", f"settb=1/{plan.fps}", ft.f("setpts", f"N+{shift}"),
            f"scale={plan.width}:{plan.height}:flags=bilinear", "setsar=1",
        )


def _geq(expression: str) -> str:
    return f"geq=lum='{expression}':cb='{expression}':cr='{expression}'"


def _field_expression(wipe: Wipe, plan: Plan, mask_width: int, mask_height: int) -> str:
    """geq text for a wipe's field on the small frame, scaled to 0..255."""
    field_text = wipe.field.format(
        # The centre of each sample, in output pixels (a chroma sample covers 2x2 luma ones).
        x=f"((X+0.5)/SW*{ft.num(plan.width / mask_width)})",
        y=f"((Y+0.5)/SH*{ft.num(plan.height / mask_height)})",
        w=plan.width,
        h=plan.height,
    )
    return f"255*(({field_text})-({ft.num(wipe.low)}))/{ft.num(wipe.high - wipe.low)}"


def _mask_expression(window: _Window) -> str:
    """geq text for one window's masks, 0..255, from the field frame it is given (N counts its frames).

    A uniform mask (a crossfade's, a dip's) is its weight, rounded, on every sample.
    """
    if window.wipe is None:
        return f"255*({window.mix.format(j='N')})+0.5"
    wipe, frames = window.wipe, window.frames
    progress = f"(1-N/{frames})"
    # st(0) holds the field's value: p() is looked up once per sample.
    d = f"({ft.num(wipe.low)}+ld(0)*{ft.num((wipe.high - wipe.low) / 255)})"
    text = wipe.mask.format(p=progress, d=d)
    text = _expand(text, "slice(", lambda v: _slice(v, progress))
    text = _expand(text, "ss(", lambda v: _smoothstep(0.0, 1.0, v, register=1))
    return f"st(0,p(X,Y));255*({text})"


def _expand(text: str, name: str, render: Callable[[str], str]) -> str:
    """Replace every name(v) in text by render(v), the last (so innermost) first."""
    while name in text:
        start = text.rindex(name)
        depth, end = 0, start + len(name) - 1
        for end in range(start + len(name) - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        text = text[:start] + render(text[start + len(name) : end]) + text[end + 1 :]
    return text


def _smoothstep(edge0: float, edge1: float, value: str, *, register: int | None = None) -> str:
    """smoothstep as expression text; with a register, the clipped value is computed once (geq is per sample)."""
    t = f"clip(({value}-({ft.num(edge0)}))/{ft.num(edge1 - edge0)},0,1)"
    if register is None:
        return f"({t}*{t}*(3-2*{t}))"
    held = f"ld({register})"
    return f"(st({register},{t});{held}*{held}*(3-2*{held}))"


def _slice(position: str, progress: str) -> str:
    edge = _smoothstep(-0.5, 0.0, f"{position}-{progress}*1.5", register=2)
    bars = f"(10*{position}-floor(10*{position}))"
    return f"gt({edge},{bars})"


# Windows are told by the frame's time, not by n: in a filter that syncs two
# inputs (maskedmerge, overlay), n counts the frames it has taken in, which can be one
# ahead of the frame being drawn. Half a frame either side absorbs float rounding.
def _within(w: _Window, fps: int) -> str:
    return f"between(t,{ft.time((w.first - 0.5) / fps)},{ft.time((w.first + w.frames - 0.5) / fps)})"


def _enable(windows: list[_Window], fps: int) -> str:
    return "+".join(_within(w, fps) for w in windows)


def _xfade(name: str, tail: Stream, head: Stream, frames: int, fps: int) -> Stream:
    """A transition no lane draws (pixelize, squeezeh, ...), by xfade over just the overlapping frames.

    No style uses one: each holds its frames for the rest of the render
    (benchmarks/README.md). xfade has no 4:2:0 mode in ffmpeg 5.1: both sides are converted to
    4:4:4 and back, and those conversions keep their frame buffers per
    transition to the end of the render. (Sharing one conversion between transitions was tried: a
    converted lane must see the next transition's first frame before it can end
    this one's piece, which drags a whole segment body into memory.)
    """
    return tail.graph.join([tail, head], f"xfade=transition={name}:duration={ft.time(frames / fps)}:offset=0",
                           "format=yuv420p")


def _cut_segment(
    segment: Stream, timing: SegmentTiming, outgoing: int
) -> tuple[Stream | None, Stream | None, Stream | None]:
    """The segment's head (its incoming transition's frames), body and tail (its outgoing one's); None when empty."""
    sizes = {"head": timing.overlap, "body": timing.frames - timing.overlap - outgoing, "tail": outgoing}
    kept = [name for name, size in sizes.items() if size > 0]
    if len(kept) == 1:
        pieces = [segment]  # the whole segment is that piece
    else:
        bounds = "|".join(str(b) for b in accumulate(sizes[name] for name in kept[:-1]))
        pieces = segment.fan(f"segment=frames={bounds}", outputs=len(kept))
    found = dict(zip(kept, pieces))
    return found.get("head"), found.get("body"), found.get("tail")
