"""Artefacts that bright sources make around themselves, flagged after detection.

Two effects make spurious peaks near a very bright (often saturated) hot spot:

* JIRAM's down-track reflections spread part of a bright column's signal along that column (Perry et al.
  2025 correct them with a per-column background), leaving residual peaks in a thin vertical streak;
* the wings of a saturated or very bright PSF are never modelled perfectly, leaving residual peaks in a ring.

A detection is flagged ARTEFACT when it is much fainter than a bright neighbour (flux below
``max_flux_ratio`` of it) and lies in that neighbour's streak (within ``column_halfwidth_px`` of its sample,
any line) or ring (within ``ring_radius_px``: 10 px for JIRAM, whose saturated cores leave residual peaks
out to ~15 core widths; 4 PSF core widths by default), counted for a saturated source from the edge of its
clipped core (``extra["clipped_core_radius_px"]``: a 30× saturated source's ring reaches ~10.5 px). A
saturated detection within that ring of a brighter saturated one is a fragment of the same clipped core
(deblending splits wide saturated plateaus) and is flagged too. Cosmic-ray hits (flagged COSMIC_RAY) flag
nothing: they make neither rings nor streaks (in the benchmark they had flagged 14 true hot spots in 160
frames).

A detection is also flagged ARTEFACT when the PSF fit does not confirm its matched-filter peak: fitted
S/N below :data:`MIN_FIT_SNR` (0.5) while the peak passed the threshold (≥ 4.5), a disagreement of 4σ: a peak
the fit finds no flux for is structure of the background estimate (the rings of a saturated source's masked
core, limb residuals). In the demo the flagged ones have fit S/N −0.3 to 0.07; real hot spots whose flux the
joint fit shares with a neighbour, or that sit at the limb, go down to fit S/N 0.55 (at 1.5, 7 real hot spots
of true SNR 100–1,500 were flagged in the demo).

A detection within a limb profile's reach of a limb seen in the image (4 px outside to 10 px inside,
:mod:`ioscan.detect.limb_profile`) is flagged ARTEFACT when its PSF fit is poor beyond what PSF-model error
explains: χ²/dof > :data:`LIMB_RIDGE_CHI2` ×
(1 + (:data:`LIMB_RIDGE_PSF_ERR` × matched-filter S/N)²). What the profile leaves along a sunlit limb is
ridges and kinks, not point sources (independent renderer, 60 sunlit frames, another seed than the
benchmark's: false detections within 8 px of the limb 1.32 → 0.57 per frame, true hot spots found at S/N ≥ 7
201 → 197 of 310).

A detection at the frame edge (flagged EDGE, or within the small background annulus' outer half-size of it,
whose annulus reads the reflection beyond the edge) whose PSF fit's χ²/dof exceeds :data:`EDGE_MISFIT_CHI2` ×
(1 + (:data:`LIMB_RIDGE_PSF_ERR` × matched-filter S/N)²) is flagged ARTEFACT (:func:`flag_edge_misfit_chi2`):
where a sunlit limb meets the edge the pad leaves a bright residual that no point source fits (125 sunlit
renderer frames: 4 false detections flagged, no true hot spot).

A detection within 2 core σ of a brighter one is flagged ARTEFACT (:func:`flag_unresolved_splits`, after the
other tests): two cores that close make a single peak, so the fainter is a split of the same source.

Flagged detections are kept in the database but never become hot spots; ``extra["artefact_test"]`` names the
test that flagged one first.
"""

from __future__ import annotations

import numpy as np

from ioscan.detect.flags import (
    ARTEFACT_BIT,
    ARTEFACT_OR_HIT,
    COSMIC_RAY_BIT,
    EDGE_BIT,
    SATURATED_BIT,
    VETTED_OR_SATURATED,
    flag_artefact,
)
from ioscan.records import Detection

#: fitted S/N below which a detection's matched-filter peak is not confirmed by the PSF fit
MIN_FIT_SNR = 0.5


def flag_unconfirmed(detections: list[Detection], min_fit_snr: float = MIN_FIT_SNR) -> int:
    """Flag ARTEFACT on detections whose PSF fit has S/N below ``min_fit_snr`` (cosmic-ray hits aside);
    returns how many were flagged."""
    n = 0
    for det in detections:
        if det.flags & ARTEFACT_OR_HIT:
            continue
        if not det.snr >= min_fit_snr:
            flag_artefact(det, f"fit_snr_below_{min_fit_snr:g}")
            n += 1
    return n


def flag_edge_unconfirmed(detections: list[Detection], min_fraction: float) -> int:
    """Flag ARTEFACT on detections at the frame edge (flagged EDGE) whose PSF fit keeps less than
    ``min_fraction`` of their matched-filter S/N (``extra["mf_snr"]``); saturated ones, cosmic-ray hits and
    artefacts aside. Returns how many were flagged.

    Beyond the edge the background is a reflection of the edge rows: where a sunlit limb or a gradient
    crosses the edge it misfits, and the matched filter, which has no freedom of its own, reads the misfit as
    a source that the PSF fit (its position and χ² free) does not confirm. On the independent renderer's
    sunlit frames those are the largest class of false detections (0.27 per frame, 83 of 135 where the limb
    meets the edge; ``bench_generalise --list-false``): a true source keeps a median 0.96 of its
    matched-filter S/N in the fit, these 0.5."""
    n = 0
    skip = VETTED_OR_SATURATED
    for det in detections:
        if not det.flags & EDGE_BIT or det.flags & skip:
            continue
        if not det.snr >= min_fraction * det.extra["mf_snr"]:
            flag_artefact(det, f"edge_fit_below_{min_fraction:g}_of_mf")
            n += 1
    return n


#: χ²/dof of the PSF fit, in a limb profile's zone, beyond which (scaled for PSF-model error) a detection is
#: a residual of the profile, not a point source
LIMB_RIDGE_CHI2 = 3.0
#: relative PSF-model error allowed for in that test (a true source's χ²/dof grows as (f · S/N)²)
LIMB_RIDGE_PSF_ERR = 0.05
#: S/N of a point source on top of the best ridge along the limb (``extra["limb_point_snr"]``,
#: :func:`ioscan.detect.misfits.point_beyond_ridge_snr`) at or above which the shape comparison does not flag
#: a detection: the default detection threshold, a source in its own right once the limb's ridge is taken out
LIMB_POINT_MIN_SNR = 5.2


def _chi2_beyond(det: Detection, max_chi2_dof: float) -> bool:
    """Whether a detection's PSF-fit χ²/dof (``extra["chi2_dof"]``) exceeds ``max_chi2_dof`` × (1 +
    (:data:`LIMB_RIDGE_PSF_ERR` × ``extra["mf_snr"]``)²): more than PSF-model error explains."""
    allowed = max_chi2_dof * (1.0 + (LIMB_RIDGE_PSF_ERR * det.extra["mf_snr"]) ** 2)
    return bool(det.extra["chi2_dof"] > allowed)


def flag_limb_ridges(
    detections: list[Detection],
    in_zone: list[bool],
    max_chi2_dof: float = LIMB_RIDGE_CHI2,
    psf_gains: list[float] | None = None,
    min_psf_gain: float | None = None,
    ridge_below_gain: float | None = None,
    min_point_snr: float | None = LIMB_POINT_MIN_SNR,
) -> int:
    """Flag ARTEFACT on detections near a limb seen in the image (``in_zone``, one per detection) whose PSF
    fit χ²/dof (``extra["chi2_dof"]``) exceeds ``max_chi2_dof`` × (1 + (:data:`LIMB_RIDGE_PSF_ERR` ×
    ``extra["mf_snr"]``)²) (see the module docstring); returns how many were flagged. With ``psf_gains``
    (one per detection: :func:`ioscan.detect.misfits.psf_over_ridge_gain`) and ``min_psf_gain``, a
    detection a point source fits that much better than a ridge along the limb is left alone: compact, it is
    a source on the limb's misfit, not the misfit; with ``ridge_below_gain``, one whose gain is below that is
    flagged whatever its χ² (``limb_ridge_shape``): a ridge along the limb fits it about as well — unless a
    point source on top of the best ridge has S/N ≥ ``min_point_snr`` (``extra["limb_point_snr"]``): a source
    beside or on the limb's residual, which the ridge alone only seemed to fit as well (the χ² test still
    applies to it)."""
    n = 0
    gains = psf_gains if psf_gains is not None else [float("nan")] * len(detections)
    for det, zone, gain in zip(detections, in_zone, gains, strict=True):
        skip = VETTED_OR_SATURATED
        if not zone or det.flags & skip:
            continue
        point_snr = det.extra.get("limb_point_snr", float("nan"))
        beyond_ridge = min_point_snr is not None and point_snr >= min_point_snr
        if ridge_below_gain is not None and gain < ridge_below_gain and not beyond_ridge:
            flag_artefact(det, "limb_ridge_shape")
            n += 1
            continue
        if min_psf_gain is not None and gain >= min_psf_gain:
            continue
        if _chi2_beyond(det, max_chi2_dof):
            flag_artefact(det, "limb_ridge")
            n += 1
    return n


def flag_unresolved_splits(detections: list[Detection], psf_sigma_px: float) -> int:
    """Flag ARTEFACT (``unresolved_split``) on each detection whose fitted position lies within 2 core σ
    (``psf_sigma_px``) of a brighter one (matched-filter S/N, ``extra["mf_snr"]``) of the band; detections
    flagged ARTEFACT or COSMIC_RAY are neither flagged nor count as the brighter one. Returns how many.

    Two Gaussian cores of σ whose centres are closer than 2σ add to a single peak, whatever their flux ratio
    (the sum of two equal ones is unimodal up to 2σ apart, of unequal ones further): no image resolves them
    into two sources, so the fainter is the fits' split of one (the wings a mismatched or saturated core
    leaves for the second pass or the deblending to find). On the independent renderer's sunlit frames (3
    seeds × 125) the pairs 0.4–1.2 px apart were one hot spot each, the fainter detection counted false 7
    times; once it had matched the other member of a close pair (1.5–4 px apart) by luck."""
    skip = ARTEFACT_OR_HIT
    keep = [d for d in detections if not d.flags & skip]
    if len(keep) < 2:
        return 0
    xy = np.array([[d.sample, d.line] for d in keep], float)
    snr = np.array([float(d.extra.get("mf_snr", d.snr)) for d in keep])
    limit = 2.0 * psf_sigma_px
    # row i: the brighter detections within the limit of detection i (only rows with one can be flagged)
    sep = np.hypot(xy[None, :, 0] - xy[:, None, 0], xy[None, :, 1] - xy[:, None, 1])
    brighter_near = (snr[None, :] > snr[:, None]) & (sep < limit)
    can_split = brighter_near.any(axis=1)
    n = 0
    kept = np.ones(len(keep), bool)
    for i in np.argsort(-snr):  # brightest first: a split flagged counts no more as the brighter one
        if can_split[i] and np.any(kept & brighter_near[i]):
            kept[i] = False
            flag_artefact(keep[i], "unresolved_split")
            n += 1
    return n


#: χ²/dof of the PSF fit at the frame edge beyond which (scaled for PSF-model error as
#: :data:`LIMB_RIDGE_CHI2`) a detection is the background's misfit there, not a point source
EDGE_MISFIT_CHI2 = 4.0


def flag_edge_misfit_chi2(
    detections: list[Detection],
    max_chi2_dof: float = EDGE_MISFIT_CHI2,
    reach_px: int | None = None,
    line_offset: int = 0,
    shape: tuple[int, ...] | None = None,
) -> int:
    """Flag ARTEFACT on detections at the frame edge (flagged EDGE) whose PSF fit χ²/dof exceeds
    ``max_chi2_dof`` × (1 + (:data:`LIMB_RIDGE_PSF_ERR` × matched-filter S/N)²) (saturated ones, cosmic-ray
    hits and artefacts aside); returns how many were flagged. With ``reach_px`` (and the band's ``shape``;
    detections' lines are product lines, ``line_offset`` the band's first), also those whose nearest pixel
    lies within ``reach_px`` of the edge: the background's annulus reaches the reflection beyond the edge
    from that far (the small annulus' outer half-size), farther than the EDGE flag's 2 core σ.

    Where a sunlit limb meets the frame edge, the edge's pad continues neither the limb's step nor its
    curvature: the residual there is a ridge or a step along the limb, bright (matched-filter S/N 20–300 on
    the independent renderer's sunlit frames) and far from a point source's shape (χ²/dof 13–1,700). True
    hot spots within 2 px of the edge kept χ²/dof ÷ (1 + (0.05 S/N)²) ≤ 1.8 there (17 of 17, 125 sunlit
    frames); anywhere on those frames 3 of 364 exceeded 4 (a saturated one, its neighbour, one of S/N 96).
    The reflection misfits wherever a pixel's background annulus reaches beyond the edge, not only within
    the EDGE flag's 2 core σ: the terminator meeting the edge left a residual of matched-filter S/N 37,
    χ²/dof 68, 1.9 px from the edge with a measured core of σ 0.82 px (EDGE from 2 px; the small annulus
    reaches 4 px)."""
    n = 0
    skip = VETTED_OR_SATURATED
    for det in detections:
        if det.flags & skip:
            continue
        if not det.flags & EDGE_BIT and not _within_reach(det, reach_px, line_offset, shape):
            continue
        if _chi2_beyond(det, max_chi2_dof):
            flag_artefact(det, "edge_chi2")
            n += 1
    return n


def _within_reach(
    det: Detection, reach_px: int | None, line_offset: int, shape: tuple[int, ...] | None
) -> bool:
    """Whether a detection's nearest pixel (clipped to the band of ``shape``) lies within ``reach_px`` of the
    frame edge (False without a reach or a shape); its line is a product line, ``line_offset`` the band's
    first (:func:`ioscan.detect.misfits.unflagged_near_edge`'s rule)."""
    if reach_px is None or shape is None:
        return False
    nl, ns = shape[0], shape[1]
    li = min(max(round(det.line - line_offset), 0), nl - 1)
    sj = min(max(round(det.sample), 0), ns - 1)
    return min(li, sj, nl - 1 - li, ns - 1 - sj) <= reach_px


def flag_bright_source_artefacts(
    detections: list[Detection],
    psf_sigma_px: float,
    *,
    column_streaks: bool,
    max_flux_ratio: float = 0.02,
    column_halfwidth_px: float = 1.5,
    ring_radius_px: float | None = None,
    bright_snr: float = 200.0,
    rings: bool = True,
) -> int:
    """Flag ARTEFACT on faint detections in the streak or ring of a bright one; returns how many were flagged.

    ``column_streaks`` enables the down-track streak test (JIRAM; saturated sources only: the streaks that
    survive the column correction are theirs); ``rings`` the ring test around unsaturated bright sources (off
    where the second pass re-checks those neighbours on the subtracted image instead; around saturated ones it
    always applies: the fill of their masked core leaves peaks ~10 px out). Works on one band's detections.
    """
    if len(detections) < 2:
        return 0
    flux = np.array([d.net_radiance_sum for d in detections], float)
    snr = np.array([d.snr for d in detections], float)
    xy = np.array([[d.sample, d.line] for d in detections], float)
    saturated = np.array([bool(d.flags & SATURATED_BIT) for d in detections])
    # a cosmic-ray hit is in the detector, not in the optics or the column read-out: no rings, no streak
    hit = np.array([bool(d.flags & COSMIC_RAY_BIT) for d in detections])
    bright = np.flatnonzero((saturated | (snr >= bright_snr)) & ~hit & np.isfinite(flux) & (flux > 0))
    core_px = np.array([float(d.extra.get("clipped_core_radius_px") or 0.0) for d in detections])
    flagged = 0
    ring = ring_radius_px if ring_radius_px is not None else 4.0 * max(psf_sigma_px, 0.5)
    if not bright.size:
        return 0
    # every (detection, bright source) pair at once; each detection takes the first bright source, in order,
    # that makes it a fragment of its clipped core, or (fainter than max_flux_ratio of it) a piece of its
    # streak or ring — the tests of the pair loop as first written, the same values
    dx = xy[:, None, 0] - xy[None, bright, 0]
    dy = xy[:, None, 1] - xy[None, bright, 1]
    d = np.hypot(dx, dy)  # (np.hypot of the signed or the absolute offsets: the same value)
    sat_j = saturated[bright][None, :]
    fragment = saturated[:, None] & sat_j & (flux[:, None] < flux[None, bright]) & (d <= ring)
    faint = flux[:, None] < max_flux_ratio * flux[None, bright]
    in_streak = (column_streaks & sat_j) & (np.abs(dx) <= column_halfwidth_px)
    ring_j = ring + np.where(saturated[bright], core_px[bright], 0.0)[None, :]  # (from a clipped core's edge)
    near = (rings | sat_j) & (d <= ring_j)
    hit_pair = fragment | (faint & (in_streak | near))
    hit_pair[bright[None, :] == np.arange(len(detections))[:, None]] = False  # (not itself)
    first = np.argmax(hit_pair, axis=1)
    for i in np.flatnonzero(hit_pair.any(axis=1)).tolist():
        det = detections[i]
        if det.flags & ARTEFACT_BIT:
            continue
        j = first[i]
        flag_artefact(
            det,
            "saturated_fragment" if fragment[i, j] else "bright_streak" if in_streak[i, j] else "bright_ring",
        )
        flagged += 1
    return flagged
