"""High-dynamic-range clips (HLG as phones record by default, or PQ) turned into the SDR picture we output.

Left as they are, an HDR clip's 10-bit BT.2020 code values would be read as
BT.709: dull, shifted colour, and for PQ a flat, grey picture.

- HLG was designed to look right on an SDR screen once its colours are mapped
  from BT.2020 to BT.709 primaries: the colorspace filter does that in integer
  arithmetic, reading the HLG curve as the SDR one.
- PQ needs a real tone curve: zscale converts to linear light and to BT.709
  primaries, tonemap compresses the highlights (hable), and zscale encodes the
  result with the BT.709 curve. That works in 32-bit float per pixel, several
  times an SDR clip's decoding.

Both cost per pixel (per-frame timings: benchmarks/README.md, Session 5).
"""

from __future__ import annotations

from .facts import MediaInfo

PQ = "pq"
HLG = "hlg"

# ffprobe's names for the HDR transfer functions, and ours.
TRANSFERS = {"smpte2084": PQ, "arib-std-b67": HLG}

# Linear light 1.0 is this many nits: SDR's reference white.
NOMINAL_PEAK_NITS = 100
# Highlights this bright (in units of NOMINAL_PEAK_NITS) become white: phones master
# their HDR video to about 1000 nits.
SIGNAL_PEAK = 10


def hdr_kind(color_transfer: str) -> str:
    """PQ or HLG for an HDR transfer as ffprobe names it; "" for SDR."""
    return TRANSFERS.get(color_transfer, "")


def tone_map_filters(info: MediaInfo, *, keep_depth: bool = False) -> list[str]:
    """Filters taking an HDR clip's decoded frames to 8-bit BT.709 SDR; none for an SDR clip.

    keep_depth: the frames come from a scaler, which is told to keep 10 bits, or
    it could hand the curves 8-bit HDR values (visible banding once mapped).
    """
    # The input's matrix and primaries are stated rather than read from the frames:
    # HDR video is BT.2020 in practice, and an untagged frame would stop the filters.
    depth = ["format=yuv420p10le"] if keep_depth and info.hdr else []
    if info.hdr == HLG:
        return [*depth, "colorspace=all=bt709:iall=bt2020:itrc=bt2020-10:format=yuv420p"]
    if info.hdr == PQ:
        return [
            *depth,
            # Its output matrix and primaries too: left to default, zscale takes them from
            # the frame, and a frame tagged only with its transfer has none ("no path").
            f"zscale=tin=smpte2084:min=bt2020nc:pin=bt2020:t=linear:m=bt2020nc:p=bt2020:npl={NOMINAL_PEAK_NITS}",
            "format=gbrpf32le",
            "zscale=p=bt709",
            f"tonemap=tonemap=hable:desat=0:peak={SIGNAL_PEAK}",
            "zscale=t=bt709:m=bt709:r=tv",
            "format=yuv420p",
        ]
    return []
