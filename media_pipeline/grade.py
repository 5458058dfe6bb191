"""A style's colour grade as ffmpeg filter text, built only from cheap filters.

Measured on 1080x1920 frames (ffmpeg 5.1, one core, per 10 s of video): eq with
contrast/saturation 0.02 s, eq with gamma or tone 0.3 s, noise 0.05 s (but see
grain_filter: its real cost is in the encoder), curves 0.6 s plus about 1.6 s of
RGB conversion (see CURVES_APPROXIMATIONS), the vignette filter 1.15 s.
colorbalance and lut3d cost far more and are never used. The vignette is
therefore drawn once, on a single frame, and multiplied onto the luma with
blend (about 0.4 s per 10 s, slice-threaded).
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
# centred on 128, would shift hues instead of darkening them.
# The mask is a single frame; repeatlast holds it for the whole stream.
_VIGNETTE_BLEND = "blend=c0_mode=multiply:c1_mode=normal:c2_mode=normal:repeatlast=1"


def _num(value: float) -> str:
    """A compact decimal for filter text (no exponent, no trailing zeros)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def tone_filter(grade: Grade) -> str:
    """The eq filter for contrast, brightness, saturation, gamma and warmth; "" when neutral."""
    options: list[str] = []
    if grade.contrast != 1.0:
        options.append(f"contrast={_num(grade.contrast)}")
    if grade.brightness != 0.0:
        options.append(f"brightness={_num(grade.brightness)}")
    if grade.saturation != 1.0:
        options.append(f"saturation={_num(grade.saturation)}")
    if grade.gamma != 1.0:
        options.append(f"gamma={_num(grade.gamma)}")
    if grade.temperature != 0.0:
        # eq's gamma_r > 1 lifts red and gamma_b < 1 lowers blue: a warm cast.
        shift = math.exp(_TONE_PER_UNIT * grade.temperature)
        options.append(f"gamma_r={_num(shift)}:gamma_b={_num(1 / shift)}")
    return f"eq={':'.join(options)}" if options else ""


def grain_filter(grade: Grade) -> str:
    """Moving film grain on luma only (so it never tints); "" when off.

    The filter itself is cheap; the cost is x264 encoding fresh noise on every
    frame, which doubled a 30 s render with plain temporal noise. Averaged
    temporal noise ("t+a") is softer and cheaper, so the strength is raised.
    It still costs: at 6 Mb/s x264 keeps only 6-14% of moving grain, and a
    strength of 21 (4.6 levels, VINTAGE_FILM) cost about 9.5 CPU-s per 30 s for
    about 2.4 levels of texture left in the output; a grain much finer than that
    is not worth its encoding time.
    """
    if grade.grain <= 0:
        return ""
    return f"noise=c0s={round(grade.grain * _GRAIN_BOOST)}:c0f=t+a"


def is_neutral(grade: Grade) -> bool:
    """True when the grade changes nothing, so the graph can skip it."""
    return not (tone_filter(grade) or grade.curves or grade.vignette > 0 or grain_filter(grade))


def picture_filters(grade: Grade) -> list[str]:
    """The grade's colour filters (curves, then tone), which may run on each picture before the join."""
    # Curves first, so the saturation and warmth settings also act on what the
    # preset does (vintage lifts black towards purple; a desaturating grade tames it).
    return [f for f in (_curves_filter(grade), tone_filter(grade)) if f]


def grade_graph(
    grade: Grade, src: str, dst: str, *, width: int, height: int, fps: int, pictures_graded: bool = False
) -> str:
    """Filtergraph text taking the label [src] to [dst], e.g. "[v]eq=...[graded]".

    width/height/fps describe the stream; they size the vignette mask, which is
    drawn once and repeated rather than recomputed for every frame.
    pictures_graded: picture_filters already ran on every picture, so only the
    vignette and grain, which belong to the whole frame, are left.
    """
    before = [] if pictures_graded else picture_filters(grade)
    after = [f for f in (grain_filter(grade),) if f]
    if grade.vignette <= 0:
        return f"[{src}]{','.join(before + after) or 'null'}[{dst}]"
    mask = f"{dst}_mask"
    pre = f"{dst}_pre"
    return ";".join(
        [
            _vignette_mask(grade.vignette, mask, width=width, height=height, fps=fps),
            f"[{src}]{','.join(before) or 'null'}[{pre}]",
            f"[{pre}][{mask}]{_VIGNETTE_BLEND}" + (f",{','.join(after)}" if after else "") + f"[{dst}]",
        ]
    )


def _curves_filter(grade: Grade) -> str:
    if not grade.curves:
        return ""
    return CURVES_APPROXIMATIONS.get(grade.curves, f"curves=preset={grade.curves}")


# The curves filter works in RGB: on a 4:2:0 stream it costs two full-frame colour
# conversions, about 6.6 s per 30 s at 1080x1920 (most of a render's filter time).
# A preset can instead be approximated in YUV: colorcorrect tints shadows and
# highlights, and one lutyuv applies the tone curve to luma and scales each
# chroma plane. Fitted by least squares to ffmpeg's own curves=preset=vintage over
# random colours: mean error 5-8.5 levels of 255 on saturated test patterns, a
# quarter of the cost. Presets without an entry use the real curves filter.
CURVES_APPROXIMATIONS = {
    "vintage": (
        "colorcorrect=rl=0.0807:bl=0.1263:rh=-0.0076:bh=-0.1886,"
        "lutyuv=y='clip(19.1026+0.608846*val+0.00292268*val*val-0.0000075236*val*val*val,0,255)'"
        ":u='clip(128+0.6286*(val-128),0,255)':v='clip(128+0.8814*(val-128),0,255)'"
    ),
}


def _vignette_mask(angle: float, label: str, *, width: int, height: int, fps: int) -> str:
    # A white frame through the vignette filter gives the darkening factor per
    # pixel. It is computed once; blend repeats it for every frame. White is luma
    # 235 in limited range: the lut stretches it to 255 so the centre stays untouched.
    # The falloff is smooth, so it is drawn small and scaled up: at full size the
    # vignette filter's float map and each step's frame stay resident for the
    # whole render (about 10 MB at 1080x1920).
    small_w, small_h = max(2, width // VIGNETTE_DOWNSCALE), max(2, height // VIGNETTE_DOWNSCALE)
    return (
        f"color=c=white:s={small_w}x{small_h}:r={fps},format=yuv420p,trim=end_frame=1,"
        f"vignette=angle={_num(angle)},lutyuv=y='clip(val*255/235,0,255)',"
        f"scale={width}:{height}:flags=bilinear,setsar=1[{label}]"
    )
