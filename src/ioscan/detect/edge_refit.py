"""A source at the frame edge refitted on a background free to curve away from the edge (issue 11).

Beyond the frame edge the background is a point reflection of the edge rows (:mod:`ioscan.detect.background`):
exact for a plane, but sunlit ground that curves or changes its slope at the edge is not continued, and on
the edge row the residual (data − background) is then positive or negative over a few pixels. With the noise
such a patch passes the matched filter as a faint source (on the independent renderer's sunlit frames,
matched-filter S/N 5.3–6.6 on smooth ground whose truth has no noise peak there).

The edge itself supports only a one-sided estimate. Here each detection whose pixel lies within
:data:`REACH_PX` of the edge, where the background has structure to misfit (its estimate varies by ≥
:data:`~ioscan.detect.misfits.MIN_STRUCTURE_SIGMA` white-noise σ within 4 px), is refitted on the image
alone: a window :data:`DEPTH_PX` deep from the edge and ± :data:`HALF_ALONG_PX` along it, the PSF at the
fitted position plus a quadratic in both directions (its curvature across the edge free, as no reflection
allows), weights 1 / σ_white². A point source keeps most of its S/N (the quadratic is nearly orthogonal to
a core of σ ≤ 1 px over such a window); a patch of the reflection's misfit is absorbed by the curvature. A
detection whose refit S/N is below ``min_fraction`` of its matched-filter S/N is flagged ARTEFACT.

Measured on the independent renderer's sunlit frames (default seed, 250 frames; catalogue detections within
1.5 px of the edge): refit S/N ÷ matched-filter S/N of the false ones with structure −2.1 to 1.9 (8 of 20
below 0.5), of the 31 true ones with structure ≥ 0.82 (the one true source below 0.5, 0.24 beside a
crescent's sliver, has structure 2.2 and is not tested). In the benchmark (after :mod:`edge_contrast`) the
false detections at the edge go 20 → 14 on that seed and 31 → 24 on seed 41 (held out), with no hot spot
lost on either; night frames, whose dark ground has no structure, are not touched.
"""

from __future__ import annotations

import numpy as np

from ioscan.detect.flags import flag_artefact
from ioscan.detect.misfits import MIN_STRUCTURE_SIGMA, background_structures, unflagged_near_edge
from ioscan.detect.psf import PsfModel
from ioscan.records import Detection

#: detections whose nearest pixel lies this close to the frame edge (px) are refitted
REACH_PX = 1
#: depth of the refit's window from the edge (px)
DEPTH_PX = 8
#: half-length of the window along the edge (px)
HALF_ALONG_PX = 6
#: fewest usable pixels the refit needs
MIN_PIXELS = 40


def one_sided_snr(data: np.ndarray, sigma_white: np.ndarray, x: float, y: float, psf: PsfModel) -> float:
    """S/N (amplitude ÷ its 1σ error) of a point source at band pixel (x = sample, y = line) refitted with a
    quadratic background (1, u, v, u², v², uv; u across the nearest frame edge, v along it) on the window
    :data:`DEPTH_PX` deep from that edge and ± :data:`HALF_ALONG_PX` along it; weights 1 / ``sigma_white``²
    (band-image maps; NaN pixels are left out). NaN with fewer than :data:`MIN_PIXELS` usable pixels."""
    nl, ns = data.shape
    li, sj = int(np.clip(np.rint(y), 0, nl - 1)), int(np.clip(np.rint(x), 0, ns - 1))
    k = int(np.argmin((li, nl - 1 - li, sj, ns - 1 - sj)))
    if k < 2:  # top or bottom edge: across it is the line axis
        rows = np.arange(0, min(DEPTH_PX, nl)) if k == 0 else np.arange(max(nl - DEPTH_PX, 0), nl)
        cols = np.arange(max(sj - HALF_ALONG_PX, 0), min(sj + HALF_ALONG_PX + 1, ns))
    else:
        cols = np.arange(0, min(DEPTH_PX, ns)) if k == 2 else np.arange(max(ns - DEPTH_PX, 0), ns)
        rows = np.arange(max(li - HALF_ALONG_PX, 0), min(li + HALF_ALONG_PX + 1, nl))
    ii, jj = np.meshgrid(rows, cols, indexing="ij")
    d = np.asarray(data[ii, jj], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = 1.0 / np.asarray(sigma_white[ii, jj], dtype=np.float64) ** 2
    ok = np.isfinite(d) & np.isfinite(w) & (w > 0)
    if int(ok.sum()) < MIN_PIXELS:
        return float("nan")
    p, _, _ = psf.stamps(jj[None].astype(float), ii[None].astype(float), np.array([x]), np.array([y]))
    across, along = (ii - y, jj - x) if k < 2 else (jj - x, ii - y)
    terms = [p[0], np.ones(ii.shape), across, along, across**2, along**2, across * along]
    design = np.stack(terms, axis=-1)[ok]
    sw = np.sqrt(w[ok])
    a = design * sw[:, None]
    b = d[ok] * sw
    cov = np.linalg.pinv(a.T @ a)
    beta = cov @ (a.T @ b)
    return float(beta[0] / np.sqrt(cov[0, 0])) if cov[0, 0] > 0 else float("nan")


def flag_edge_refits(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    psf: PsfModel,
    min_fraction: float,
) -> int:
    """Flag ARTEFACT on detections of one band within :data:`REACH_PX` of the frame edge, where the
    background has structure to misfit, whose :func:`one_sided_snr` is below ``min_fraction`` of their
    matched-filter S/N (``extra["mf_snr"]``); saturated detections, cosmic-ray hits and those already flagged
    are left alone. ``data``: the band image; ``background``, ``sigma_white``: the crop's maps from band pixel
    ``offset`` = (line, sample); ``line_offset``: the band's first product line; ``psf``: the PSF in use.
    Sets ``extra["edge_refit_fraction"]`` on the detections tested; returns how many were flagged."""
    l0, s0 = offset
    bl, bs = background.shape
    # the detections near the edge whose pixel lies on the crop, their background structure all at once
    near = [
        (det, li - l0, sj - s0)
        for det, li, sj in unflagged_near_edge(detections, line_offset, data.shape, REACH_PX)
        if 0 <= li - l0 < bl and 0 <= sj - s0 < bs
    ]
    if not near:
        return 0
    structure = background_structures(
        background, sigma_white, np.array([c[1] for c in near]), np.array([c[2] for c in near])
    )
    sw_band = np.full(data.shape, np.nan)  # the band image's frame: the window is the edge's
    sw_band[l0 : l0 + bl, s0 : s0 + bs] = sigma_white
    n = 0
    for (det, _, _), st in zip(near, structure.tolist(), strict=True):
        if st < MIN_STRUCTURE_SIGMA:
            continue
        y, x = det.line - line_offset, det.sample
        snr = one_sided_snr(data, sw_band, x, y, psf)
        mf = float(det.extra.get("mf_snr", np.nan))
        if not (np.isfinite(snr) and mf > 0):
            continue
        det.extra["edge_refit_fraction"] = snr / mf
        if snr < min_fraction * mf:
            flag_artefact(det, "edge_refit")
            n += 1
    return n
