"""A style's colour grade as ffmpeg filter text, built only from cheap filters.

eq with contrast, brightness and saturation only keeps to its SIMD path; a gamma
or a warm or cool tone in eq sends a plane through a per-pixel table in C, and
curves (in RGB) and the vignette filter cost several times more again, per frame;
colorbalance and lut3d cost far more and are never used. noise is cheap itself
(see grain_filter: its real cost is in the encoder). The vignette is therefore
drawn once, on a single frame, and multiplied onto the luma with blend (SIMD);
a warm or cool tone rides on the same blend as a chroma offset at no extra cost.
Each filter's time: benchmarks/README.md, "The grade and the styles".
"""

from __future__ import annotations

import math

from .style import Grade

# Per unit of temperature, how far eq's red and blue gammas move apart. 0.2 gives a
# clear but not garish warm (or cool) cast at |temperature| = 1.
_TONE_PER_UNIT = 0.2

# Averaged grain is softer than plain temporal noise of the same strength.
_GRAIN_BOOST = 1.5

# The vignette mask is drawn at this fraction of the frame's size, then scaled up.
VIGNETTE_DOWNSCALE = 4

# The darkened vignette is applied to luma only: multiplying chroma, which is
# centred on 128, would shift hues instead of darkening them. A tone adds the
# mask's chroma (128 + offset) with grainmerge, A + B - 128.
# The mask is a single frame; repeatlast holds it for the whole stream.
_VIGNETTE_BLEND = "blend=c0_mode=multiply:c1_mode={chroma}:c2_mode={chroma}:repeatlast=1"


def _num(value: float) -> str:
    """A compact decimal for filter text (no exponent, no trailing zeros)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def tone_filter(grade: Grade, *, warmth: bool = True) -> str:
    """The eq filter for contrast, brightness, saturation, gamma and warmth; "" when neutral.

    warmth=False leaves the temperature out (the vignette's blend carries it, see
    chroma_offsets), so that without a gamma eq keeps to its SIMD path.
    """
    options: list[str] = []
    if grade.contrast != 1.0:
        options.append(f"contrast={_num(grade.contrast)}")
    if grade.brightness != 0.0:
        options.append(f"brightness={_num(grade.brightness)}")
    if grade.saturation != 1.0:
        options.append(f"saturation={_num(grade.saturation)}")
    if grade.gamma != 1.0:
        options.append(f"gamma={_num(grade.gamma)}")
    if warmth and grade.temperature != 0.0:
        # eq's gamma_r > 1 lifts red and gamma_b < 1 lowers blue: a warm cast.
        shift = math.exp(_TONE_PER_UNIT * grade.temperature)
        options.append(f"gamma_r={_num(shift)}:gamma_b={_num(1 / shift)}")
    return f"eq={':'.join(options)}" if options else ""


def chroma_offsets(temperature: float) -> tuple[int, int]:
    """The warm or cool cast as (U, V) offsets in 8-bit levels, matching eq's tone on mid-grey.

    eq's tone puts each chroma plane through a gamma; near neutral that curve is
    a near-constant shift, so a constant offset gives the same cast (within a
    level on greys) without a per-pixel table.
    """
    exponent = math.exp(_TONE_PER_UNIT * temperature / 2)  # eq takes the square root of each chroma gamma
    return round(256 * 0.5**exponent - 128), round(256 * 0.5 ** (1 / exponent) - 128)


def grain_filter(grade: Grade) -> str:
    """Moving film grain on luma only (so it never tints); "" when off.

    The filter itself is cheap; the cost is x264 encoding fresh noise on every
    frame. Averaged temporal noise ("t+a") is softer and cheaper, so the
    strength is raised. It still costs: at 6 Mb/s x264 keeps only a small share
    of moving grain, so a grain much finer than VINTAGE_FILM's is not worth its
    encoding time (measured: benchmarks/README.md, Session 4 and "The grade and
    the styles").
    """
    if grade.grain <= 0:
        return ""
    return f"noise=c0s={round(grade.grain * _GRAIN_BOOST)}:c0f=t+a"


def is_neutral(grade: Grade) -> bool:
    """True when the grade changes nothing, so the graph can skip it."""
    return not (tone_filter(grade) or grade.curves or grade.vignette > 0 or grain_filter(grade))


def picture_filters(grade: Grade, *, warmth: bool = True) -> list[str]:
    """The grade's colour filters (curves, then tone), which may run on each picture before the join."""
    # Curves first, so the saturation and warmth settings also act on what the
    # preset does (vintage lifts black towards purple; a desaturating grade tames it).
    return [f for f in (_curves_filter(grade), tone_filter(grade, warmth=warmth)) if f]


def grade_graph(
    grade: Grade, src: str, dst: str, *, width: int, height: int, fps: int, pictures_graded: bool = False
) -> str:
    """Filtergraph text taking the label [src] to [dst], e.g. "[v]eq=...[graded]".

    width/height/fps describe the stream; they size the vignette mask, which is
    drawn once and repeated rather than recomputed for every frame.
    pictures_graded: picture_filters already ran on every picture, so only the
    vignette and grain, which belong to the whole frame, are left.
    """
    after = [f for f in (grain_filter(grade),) if f]
    if grade.vignette <= 0:
        before = [] if pictures_graded else picture_filters(grade)
        return f"[{src}]{','.join(before + after) or 'null'}[{dst}]"
    # The tone goes onto the vignette's blend unless each picture already has it
    # (then the letterbox bars, which the blend also covers, stay neutral).
    offsets = (0, 0) if pictures_graded else chroma_offsets(grade.temperature)
    before = [] if pictures_graded else picture_filters(grade, warmth=False)
    mask = f"{dst}_mask"
    pre = f"{dst}_pre"
    blend = _VIGNETTE_BLEND.format(chroma="grainmerge" if offsets != (0, 0) else "normal")
    return ";".join(
        [
            _vignette_mask(grade.vignette, mask, width=width, height=height, fps=fps, offsets=offsets),
            f"[{src}]{','.join(before) or 'null'}[{pre}]",
            f"[{pre}][{mask}]{blend}" + (f",{','.join(after)}" if after else "") + f"[{dst}]",
        ]
    )


def _curves_filter(grade: Grade) -> str:
    if not grade.curves:
        return ""
    return CURVES_APPROXIMATIONS.get(grade.curves, f"curves=preset={grade.curves}")


# The curves filter works in RGB: on a 4:2:0 stream it costs two full-frame colour
# conversions, which would be most of a render's filter time. A preset can instead
# be approximated in YUV: colorcorrect tints shadows and highlights, and one lutyuv
# applies the tone curve to luma and scales each chroma plane. Fitted by least
# squares to ffmpeg's own curves=preset=vintage over random colours, for a fraction
# of the cost (error and cost: benchmarks/README.md, "The grade and the styles").
# Presets without an entry use the real curves filter.
CURVES_APPROXIMATIONS = {
    "vintage": (
        "colorcorrect=rl=0.0807:bl=0.1263:rh=-0.0076:bh=-0.1886,"
        "lutyuv=y='clip(19.1026+0.608846*val+0.00292268*val*val-0.0000075236*val*val*val,0,255)'"
        ":u='clip(128+0.6286*(val-128),0,255)':v='clip(128+0.8814*(val-128),0,255)'"
    ),
}


def _vignette_mask(
    angle: float, label: str, *, width: int, height: int, fps: int, offsets: tuple[int, int] = (0, 0)
) -> str:
    # A white frame through the vignette filter gives the darkening factor per
    # pixel. It is computed once; blend repeats it for every frame. White is luma
    # 235 in limited range: the lut stretches it to 255 so the centre stays untouched;
    # its chroma becomes 128 plus the tone's offsets.
    # The falloff is smooth, so it is drawn small and scaled up: at full size the
    # vignette filter's float map and each step's frame stay resident for the
    # whole render (measured: benchmarks/README.md, Session 4).
    small_w, small_h = max(2, width // VIGNETTE_DOWNSCALE), max(2, height // VIGNETTE_DOWNSCALE)
    return (
        f"color=c=white:s={small_w}x{small_h}:r={fps},format=yuv420p,trim=end_frame=1,"
        f"vignette=angle={_num(angle)},lutyuv=y='clip(val*255/235,0,255)'"
        f":u={128 + offsets[0]}:v={128 + offsets[1]},"
        f"scale={width}:{height}:flags=bilinear,setsar=1[{label}]"
    )
