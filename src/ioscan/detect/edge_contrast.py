"""A peak at the frame edge smaller than the background misfit around it (issue 11, sunlit frames).

Beyond the frame edge the background is a point reflection of the edge rows
(:mod:`ioscan.detect.background`). Where sharp structure crosses the edge — a crescent's sliver, a limb or
terminator the image limb does not model (another horn of the crescent, a limb the circle fit did not take),
the tip of a bright sliver cut by the edge — the reflection cannot continue it, and the residual (data −
background) around the crossing is a misfit of both signs, tens of white-noise σ deep, over many pixels.
Peaks of that misfit pass the matched filter; their PSF fits are poor or keep a fraction of the S/N, but so
do bright true sources cut by the edge.

What tells them apart is the size of the peak against the misfit around it: a point source's residual peak
stands far above the residual a few pixels away, a misfit's peak does not. Here the *spread* of the residual
(in white-noise σ) is its 95th − 5th percentile over a (2 :data:`BOX_PX` + 1)² box around the detection
without the (2 :data:`CORE_PX` + 1)² centre (the source's own core and first wings), clipped to the analysed
crop; on white noise it is ~3.3. A detection within :data:`REACH_PX` of the frame edge whose net residual peak
(the 3 × 3 maximum) is below ``min_fraction`` of that spread is flagged ARTEFACT. Only a misfit of at least
~4 × the peak's height reaches that: nowhere on smooth ground, however sunlit.

Measured on the independent renderer's sunlit frames (default seed, 250 frames, the detections that pass
every other test; ``benchmarks/bench_generalise.py --list-false``): the false detections within 3 px of the
edge had peak ÷ spread 0.06–9.7 (7 of 27 below 0.23: crescent slivers and limbs crossing the edge, all
misfits the truth shows as such), the 53 true ones 0.34–292 (three below 1: faint sources beside a sliver).
The same ratio away from the edge does not separate them (true hot spots near a sunlit limb sit on the limb
profile's misfit and are found: 18 true against 11 false below 0.3 over the whole frame), so the test stays
at the edge, where the reflection is the cause.
"""

from __future__ import annotations

import numpy as np

from ioscan.detect.flags import flag_artefact
from ioscan.detect.misfits import band_residual, unflagged_near_edge
from ioscan.records import Detection

#: detections whose nearest pixel lies this close to the frame edge (px) are tested
REACH_PX = 3
#: half-size (px) of the box in which the residual's spread is measured
BOX_PX = 7
#: half-size (px) of the centre left out of it (a point source's core and first wings, σ ≤ 1 px)
CORE_PX = 3
#: fewest finite pixels the spread needs
MIN_PIXELS = 20
#: the spread's percentiles
SPREAD_PERCENTILES = (5.0, 95.0)


def residual_contrast(residual: np.ndarray, line: int, sample: int) -> tuple[float, float]:
    """(net peak, spread) of a detection at band pixel (line, sample): the largest value of ``residual``
    (data − background in white-noise σ, NaN outside the analysed crop) in the 3 × 3 pixels around it, and the
    95th − 5th percentile of the finite residual over the box of half-size :data:`BOX_PX` without the centre
    of half-size :data:`CORE_PX`. NaN where the centre has no finite pixel or the box fewer than
    :data:`MIN_PIXELS`."""
    nl, ns = residual.shape
    pk = residual[max(line - 1, 0) : line + 2, max(sample - 1, 0) : sample + 2]
    if pk.size == 0 or not np.isfinite(pk).any():
        return float("nan"), float("nan")
    peak = float(np.nanmax(pk))
    i0, i1 = max(line - BOX_PX, 0), min(line + BOX_PX + 1, nl)
    j0, j1 = max(sample - BOX_PX, 0), min(sample + BOX_PX + 1, ns)
    box = np.array(residual[i0:i1, j0:j1], dtype=np.float64)
    box[
        max(line - CORE_PX - i0, 0) : max(line + CORE_PX + 1 - i0, 0),
        max(sample - CORE_PX - j0, 0) : max(sample + CORE_PX + 1 - j0, 0),
    ] = np.nan
    v = box[np.isfinite(box)]
    if v.size < MIN_PIXELS:
        return peak, float("nan")
    lo, hi = np.percentile(v, SPREAD_PERCENTILES)
    return peak, float(hi - lo)


def flag_edge_misfits(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    min_fraction: float,
) -> int:
    """Flag ARTEFACT on detections of one band within :data:`REACH_PX` of the frame edge whose net residual
    peak is below ``min_fraction`` of the residual's spread around them (:func:`residual_contrast`; saturated
    detections, cosmic-ray hits and those already flagged are left alone). ``data``: the band image;
    ``background``, ``sigma_white``: the crop's maps from band pixel ``offset`` = (line, sample);
    ``line_offset``: the band's first product line. Sets ``extra["edge_contrast"]`` (peak ÷ spread) on the
    detections tested; returns how many were flagged."""
    residual = band_residual(data, background, sigma_white, offset)
    n = 0
    for det, li, sj in unflagged_near_edge(detections, line_offset, data.shape, REACH_PX):
        peak, spread = residual_contrast(residual, li, sj)
        if not (np.isfinite(peak) and np.isfinite(spread) and spread > 0):
            continue
        det.extra["edge_contrast"] = peak / spread
        if peak < min_fraction * spread:
            flag_artefact(det, "edge_contrast")
            n += 1
    return n
