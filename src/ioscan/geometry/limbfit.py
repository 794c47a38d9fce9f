"""Limb-fit navigation: measure where Io's disk really is in a frame.

Two entry points:

* :func:`register_frame` — model-based. Given the predicted geometry (:class:`Backplanes`, or a
  ``(FrameCamera, CameraPose)`` pair) it finds the pixel offset (and optionally scale and rotation) that
  moves the predicted limb onto the image's limb. Coarse step: FFT cross-correlation of the image's
  gradient field with that of a rendered (Lambert, orthographic) disk template over the whole search
  window (±50 px by default; navigation passes the instrument's, JIRAM ±23 × ±162 px), summed over the
  template's box only (FFTs a few times smaller than the padded frame for a small disk). Fine step: edge
  points are the sub-pixel maximum of the brightness drop along rays normal to the shifted predicted limb,
  corrected for the PSF-induced inward bias of a Lambert limb profile (1-D model per ray from the
  predicted incidence geometry), weighted by their contrast and fitted by robust least squares
  (soft-L1 loss, then 3σ clipping and plain least squares; :mod:`ioscan.geometry.limbsolve`, the minimum
  :func:`scipy.optimize.least_squares` finds in half its time). Passes whose search window is still wide
  (the coarse step's error) read every k-th limb ray only (≥ 150 of them): they only bring the limb into the
  narrow window of the passes that give the fit and its error, which read every ray. A thin pass that finds
  too few edges, or a limb faint enough that neighbouring rays may need averaging, reads the other rays too
  (the same numbers as one pass over every ray). The pass after the first reads every ray in the fine
  window widened by at most 1 px (the first pass's fit is within ~0.5 px of the final one), and a pass over
  every ray that moved the fit by < 0.25 px is the last (``FAST_PASSES``); the least squares stop at 1e-3 px.
  Only the box a fit can read is prepared (hot spots filled, smoothed, noise statistics) and correlated: the
  predicted disk's box widened by the search window and a margin (``PREP_LIMB_BOX``, ``COARSE_ON_BOX``).
* :func:`fit_disk_center` — model-free, for ground-based frames with no prediction: gradient-directed
  Hough vote for the centre of a disk of roughly known radius, then the same robust edge fit of a circle
  (centre + radius), with a second pass whose bias correction uses a Sun direction fitted to the disk's
  own shading.

Limb points used: "sunlit" where the predicted Lambert brightness 2σ inside the limb is ≥ 0.15 (this keeps
the sqrt-shaped limbs of low-phase frames and drops thin crescent horns), with edges ≥ ``min_edge_snr``
times the gradient noise; on the night side (no sunlight near the limb) only edges ≥ ``night_edge_snr``
(the M-band thermal limb); never the terminator region in between. Compact sources (hot spots, cosmic
rays: a line-opening top-hat that exceeds both 5σ noise and the local surface brightness, so albedo texture
is not masked) are filled and only rays whose edge region crosses one are dropped. An edge must be a step
(the level two clean radii inside exceeds the level outside), not a thin ridge: column streaks (JIRAM's
down-track reflections) and cosmic rays are rejected that way. Faint limbs: neighbouring rays' profiles are
averaged in groups sized so that a typical edge reaches ~1.5× the SNR threshold. Weights are capped (3×
median) so no single bright edge dominates. The fitted points must span ≥ 40 px (or a quarter of a small
disk's limb), which keeps a saturated hot spot's edge from passing for a limb.

Cross-track prior: a pointing error that is large along one pixel axis (JIRAM: along track, the lines under
NAIF's frames) is only a few pixels across it, so :func:`register_frame` takes Gaussian priors (mean 0) per
pixel axis (``prior_sigma_px`` = (σ_sample, σ_line), None for none); navigation passes the instrument's
(:meth:`ioscan.instruments.PointingPrior.limb_prior_px`: a prior across track only). A short arc that
constrains only the along-track offset then gives the cross-track offset with an honest error (≤ the prior)
instead of a confident wrong value; ``ok`` then needs only the errors along axes without a prior ≤ 2 px.

Predicted limb from backplanes: pixels spread over the whole frame are projected onto the limb along the
``limb_distance_px`` gradient, an algebraic conic is fitted, then polished so its signed distance reproduces
the backplane (same second-order formula), which also works when Io overfills the frame.

Offsets: ``offset_sample_px, offset_line_px`` = observed − predicted position of Io's centre, pixels.
With a camera and pose the shift is modelled as a rotation of the camera (the exact pinhole homography
K·R·K⁻¹) and :func:`corrected_pose` returns the re-pointed pose; with backplanes only it is a translation
of the limb ellipse fitted to the ``limb_distance_px`` backplane (≈0.1 px model error for a 120 px shift
near the frame edge, the gnomonic distortion).

Failure policy: data that cannot be registered (no limb in view, no limb signal, too few limb points, arc
too short: 1σ > 2 px, fit diverged) give ``LimbFit(ok=False, reason=...)``;
:class:`~ioscan.errors.NavigationError` is raised only for unusable inputs (image not 2-D or of the wrong
shape, predicted limb not an ellipse, Io behind the camera, no ``limb_distance_px`` backplane).

Uncertainties: 1σ from the least-squares covariance (with the prior) scaled by the residual variance and
by the integrated autocorrelation of the residuals along the limb (neighbouring rays share pixels), with a
per-edge floor (the expected scatter PSF width / edge SNR, and 0.1 px for photometric/albedo model error),
plus half the offset that the PSF-bias correction induces (photometric-law uncertainty), plus
``OFFSET_MODEL_FLOOR_PX`` (0.08 px) on each offset in quadrature: the model error common to neighbouring
edges, which does not average down as 1/√n (a 190-edge fit otherwise states 0.03 px and is 0.24 px off).
On pure-noise synthetic frames pulls are therefore < 1 (errors conservative); on the simulated campaign
(seeds 1–6, disks < 1000 px) the pull rms is ~1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from ioscan import body as iobody
from ioscan.errors import NavigationError
from ioscan.geometry import limbsolve
from ioscan.geometry.backplanes import Backplanes
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import limb_quadric
from ioscan.geometry.pose import CameraPose
from ioscan.robust import MAD_TO_SIGMA, mad_sigma

SMOOTH_SIGMA_PX = 0.75  # pre-smoothing of the image before the edge search
LIT_MIN_BRIGHTNESS = 0.15  # Lambert brightness (cos incidence) 2σ inside a "sunlit" limb point
MAX_OFFSET_ERR_PX = 2.0  # a fit whose 1σ offset error exceeds this is reported not ok
MIN_LIMB_EXTENT_PX = 40.0  # fitted limb points must span this much (or a quarter of a small disk's limb)
BIAS_MODEL_FRACTION = 0.5  # 1σ uncertainty of the PSF edge-bias correction, as a fraction of its effect
EDGE_MODEL_FLOOR_PX = 0.1  # per-point systematic scatter of limb edges (photometric law, albedo), px
#: 1σ offset error (px, each axis, in quadrature) that does not average down with the number of edges: the
#: albedo/photometric model error is common to neighbouring edges. Measured on the simulated campaign
#: (seeds 1–6, disks < 1000 px): without it the pull rms is (2.03, 1.32) with one 7σ fit (190 edges, 0.24 px
#: off, stated 0.034 px); with 0.08 px (1.09, 0.95) and none beyond 3σ
OFFSET_MODEL_FLOOR_PX = 0.08
HOT_SPOT_CONTRAST = 1.0  # a compact source must exceed the local surface brightness by this fraction
THIN_MIN_RAYS = 150  # a wide search pass reads every k-th limb ray, keeping at least this many
MAX_THIN_PASSES = 2  # at most this many such passes before every pass reads every ray
NIGHT_STEP_MAX = 2.0  # a night-side edge's height / a blurred step's with its slope (a fade: ≫ 2)
THIN_GROUP_MARGIN = 1.25  # a thin pass decides "no grouping" alone when its median edge SNR clears this
#: the kept edges may scatter about the fitted limb by at most this × the blurred edge's width (PSF, pixel
#: and pre-smoothing; 1.07 px for JIRAM), or 3× what their SNRs explain if more: a limb's edges follow the
#: predicted limb's shape to ≲ 0.4 px (campaign seeds 1–12, 102 registrations: at most 0.37 px, 1.34 px for
#: a 7-point grouped faint limb); edges that scatter more trace another curve (a terminator taken for the
#: limb scattered 6.2 px and was 38 px off at a stated 1σ of 2 px)
MAX_EDGE_SCATTER = 2.0
#: prepare (fill, smooth, noise statistics) only the box a fit can read: the predicted disk's bounding box
#: widened by the search window, the coarse template's margin and this many pixels (the edge rays' reach)
PREP_LIMB_BOX = True
#: fewer refinement passes: a thin pass fits without the 3σ clipping (it only brings the limb into the fine
#: window), the pass after the first reads every ray in the fine window widened by at most
#: FIRST_PASS_MARGIN_PX, and a pass over every ray that moved the fit by less than STOP_MOVED_PX is the last
FAST_PASSES = True
FIRST_PASS_MARGIN_PX = 1.0
STOP_MOVED_PX = 0.25
#: the least squares stop when a step moves every parameter by less than this (px; offsets move by about as
#: much: a thousandth of the 0.08-px floor of their error)
LSQ_STEP_TOL_PX = 1e-3
PREP_MARGIN_PX = 30.0
COARSE_ON_BOX = True  # the coarse step correlates and takes its noise on the prepared box only
BIAS_NODES = 48  # edge-bias model evaluated at this many incidence values along the limb, interpolated
#: the rays' profile samples, the medians and MADs, the line opening and the coarse step's binning by compiled
#: kernels (:mod:`ioscan.geometry.limb_kernels`; the same numbers), every input array read-only (one numba
#: signature each: :func:`ioscan.geometry.compiled.readonly`)
LIMB_KERNELS = True
#: the image preparation's and the coarse step's noise statistics (MADs of neighbour differences) read every
#: k-th line of the box, k the smallest that leaves ≤ this many pixels (0: every line): a MAD of ~10^4
#: values has a ~1.3 % relative error, a fraction of what the box's own texture moves it by, at a fraction of
#: the whole box's selection cost
NOISE_SAMPLES = 12000
#: fewer good differences than this in the lines read: the whole box's instead
NOISE_MIN_VALUES = 2000
#: the coarse step's correlations by single-precision FFTs (~1.3× faster; the scores' relative rounding ~1e-6)
COARSE_FFT_FLOAT32 = True
#: the predicted limb's Sun fit (:func:`_model_from_backplanes`) by its normal equations in one compiled pass
#: (:func:`_sun_fit_compiled`; the Sun to rounding, ~1e-15) instead of ``np.linalg.lstsq`` on the 3000 × 3
#: matrix made by whole-array steps; normal equations whose condition number exceeds SUN_MAX_COND go to lstsq
SUN_NORMAL_EQUATIONS = True
SUN_MAX_COND = 1e8
#: a long predicted limb is first read every this many samples (:func:`_sample_ellipse`)
SAMPLE_BLOCK = 16


@dataclass
class LimbFit:
    """Result of a limb fit (pixels are 0-based, centres at integers; offsets are observed − predicted).

    Attributes:
        ok: True when the frame was registered; otherwise ``reason`` says why not.
        reason: "" when ok, else a short explanation.
        offset_sample_px, offset_line_px: displacement of Io's centre, observed − predicted, pixels.
        offset_err_px: 1σ errors of (offset_sample_px, offset_line_px), pixels.
        offset_corr: correlation of those two errors (a limb arc seen on one side ties them together).
        scale, scale_err: observed/predicted disk size (1 if not fitted; error NaN then).
        rotation_deg, rotation_err_deg: image-plane rotation of observed vs predicted, positive from +sample
            toward +line (0 if not fitted). Only the limb's small ellipticity constrains it for Io.
        center_sample_px, center_line_px: fitted position of Io's centre (model-free: of the circle).
        radius_px: mean limb radius of the fitted model, pixels.
        n_limb_points: edge points kept in the final fit.
        rms_px: rms distance of those points from the fitted limb, pixels.
        arc_deg: angular extent of the limb arc they cover, degrees (360 for the whole limb).
        coarse_snr: significance of the coarse cross-correlation peak (NaN for the model-free fit).
        mode: "rotation" (camera + pose), "translation" (backplanes) or "model-free".
        lit_coverage, night_coverage: of the sunlit (night-side) limb rays in view at the fitted position
            (groups of rays when grouped), the fraction that gave a kept edge; NaN when none is in view.
        n_night: how many of the kept edges lie on the night side.
    """

    ok: bool
    reason: str = ""
    offset_sample_px: float = float("nan")
    offset_line_px: float = float("nan")
    offset_err_px: tuple[float, float] = (float("nan"), float("nan"))
    offset_corr: float = 0.0
    scale: float = 1.0
    scale_err: float = float("nan")
    rotation_deg: float = 0.0
    rotation_err_deg: float = float("nan")
    center_sample_px: float = float("nan")
    center_line_px: float = float("nan")
    radius_px: float = float("nan")
    n_limb_points: int = 0
    rms_px: float = float("nan")
    arc_deg: float = 0.0
    coarse_snr: float = float("nan")
    mode: str = ""
    lit_coverage: float = float("nan")
    night_coverage: float = float("nan")
    n_night: int = 0


# --------------------------------------------------------------------------------------------- limb models
@dataclass
class _LimbModel:
    """Predicted limb: conic xᵀCx = 0 in homogeneous pixels (f > 0 on the disk) and its sampled points."""

    conic: np.ndarray
    center: np.ndarray  # ellipse centre (2,)
    semi_axes: tuple[float, float]
    axes_px: np.ndarray  # 2×2, columns = ellipse axis directions
    body_center: np.ndarray  # projected centre of Io (2,)
    sun_disk: np.ndarray  # Sun direction in the (axis1, axis2, toward observer) frame
    k_matrix: np.ndarray | None  # pinhole intrinsics in the camera's (u_s, u_l, b) basis, rotation mode
    phi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    cos_limb: np.ndarray = field(default_factory=lambda: np.zeros(0))  # cos(incidence) at each limb point
    cos_phase: np.ndarray = field(default_factory=lambda: np.zeros(0))  # Sun · toward-observer at each point

    @property
    def radius(self) -> float:
        return float(np.sqrt(self.semi_axes[0] * self.semi_axes[1]))


def _conic_to_ellipse(conic: np.ndarray):
    """(centre, (a, b), axes 2×2) of an ellipse conic with f > 0 inside; NavigationError otherwise."""
    s = conic[:2, :2]
    try:
        center = np.linalg.solve(s, -conic[:2, 2])
    except np.linalg.LinAlgError as exc:
        raise NavigationError("predicted limb is not an ellipse (degenerate conic)") from exc
    fc = float(np.append(center, 1.0) @ conic @ np.append(center, 1.0))
    w, v = np.linalg.eigh(-s / fc)
    if fc <= 0 or np.any(w <= 0):
        raise NavigationError("predicted limb is not an ellipse (Io too close to or behind the camera?)")
    return center, (float(1 / np.sqrt(w[0])), float(1 / np.sqrt(w[1]))), v


def _sample_ellipse(model: _LimbModel, spacing_px: float = 1.0, crop: tuple | None = None) -> None:
    """The limb sampled every ``spacing_px`` (``phi``, ``points``); with ``crop`` (frame shape, max shift)
    only the samples :func:`_crop_model` keeps: a long limb (a close frame's: up to ~20,000 samples for a
    few hundred in reach) is read first every :data:`SAMPLE_BLOCK`-th sample, and only the blocks whose
    first sample lies within reach widened by a block's length are sampled in full (a sample in reach is
    at most a block's length from its block's first one), then cropped: the same samples."""
    a, b = model.semi_axes
    n = max(64, int(np.ceil(2 * np.pi * np.sqrt(0.5 * (a * a + b * b)) / spacing_px)))
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    if crop is not None and n >= 4 * SAMPLE_BLOCK:
        first = phi[::SAMPLE_BLOCK]
        pts = model.center + (model.axes_px @ np.vstack([a * np.cos(first), b * np.sin(first)])).T
        # consecutive samples lie ≤ max(a, b)·Δφ apart
        reach = SAMPLE_BLOCK * max(a, b) * (2 * np.pi / n) + 1.0
        mark = _in_reach(pts, *crop, 12.0 + reach)
        phi = phi[np.repeat(mark, SAMPLE_BLOCK)[:n]]
    model.phi = phi
    model.points = model.center + (model.axes_px @ np.vstack([a * np.cos(phi), b * np.sin(phi)])).T
    if crop is not None:
        _crop_model(model, *crop)


def _sun_in_disk_frame_fit(phi: np.ndarray, cos_limb: np.ndarray, cos_phase: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.cos(phi), np.sin(phi)])
    s12 = np.linalg.lstsq(design, cos_limb, rcond=None)[0]
    return np.array([s12[0], s12[1], float(np.mean(cos_phase))])


def _intrinsics(camera: FrameCamera) -> np.ndarray:
    f = 1.0 / camera.ifov_rad
    return np.array([[f, 0.0, camera.center_sample], [0.0, f, camera.center_line], [0.0, 0.0, 1.0]])


def _model_from_pose(camera: FrameCamera, pose: CameraPose, body: iobody.Ellipsoid) -> _LimbModel:
    k = _intrinsics(camera)
    basis = np.column_stack(camera.axes())
    m = pose.inst_to_body @ basis @ np.linalg.inv(k)  # homogeneous pixel → body-frame ray
    obs = np.asarray(pose.observer_km, dtype=float)
    try:
        q = limb_quadric(obs, body.radii_km)
    except ValueError as exc:
        raise NavigationError("observer inside Io: no limb") from exc
    conic = m.T @ q @ m
    cam = basis.T @ (pose.inst_to_body.T @ (-obs))
    if cam[2] <= 0:
        raise NavigationError("Io is behind the camera in the predicted pose")
    body_center = (k @ cam / cam[2])[:2]
    conic = conic / abs(float(np.append(body_center, 1.0) @ conic @ np.append(body_center, 1.0)))
    center, axes, vecs = _conic_to_ellipse(conic)
    model = _LimbModel(conic, center, axes, vecs, body_center, np.zeros(3), k)
    _sample_ellipse(model)
    # exact 3-D limb points: the grazing ray's double root t = −(o·A·d)/(d·A·d)
    amat = 1.0 / body.radii_km**2
    d = np.column_stack([model.points, np.ones(len(model.phi))]) @ m.T
    t = -np.sum(obs * amat * d, axis=1) / np.sum(d * amat * d, axis=1)
    p = obs + t[:, None] * d
    n = p * amat
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    sun = np.asarray(pose.sun_km, float) - p
    sun /= np.linalg.norm(sun, axis=1, keepdims=True)
    view = obs - p
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    model.cos_limb = np.sum(n * sun, axis=1)
    model.cos_phase = np.sum(sun * view, axis=1)
    model.sun_disk = _sun_in_disk_frame_fit(model.phi, model.cos_limb, model.cos_phase)
    return model


def _fit_conic(points: np.ndarray) -> np.ndarray:
    """Algebraic conic through 2-D points (normalised coordinates, smallest singular vector)."""
    mean = points.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((points - mean) ** 2, axis=1)))) or 1.0
    x, y = ((points - mean) / scale).T
    design = np.column_stack([x * x, x * y, y * y, x, y, np.ones_like(x)])
    coef = np.linalg.eigh(design.T @ design)[1][:, 0]
    a, b, c, d, e, f = coef
    cn = np.array([[a, b / 2, d / 2], [b / 2, c, e / 2], [d / 2, e / 2, f]])
    t = np.array([[1 / scale, 0, -mean[0] / scale], [0, 1 / scale, -mean[1] / scale], [0, 0, 1]])
    return t.T @ cn @ t


def _limb_points_from_distance(dist: np.ndarray, finite: np.ndarray):
    """Limb points (projections of pixels along the distance gradient) and the inward unit directions.

    The pixels are spread over the whole frame, not only the band next to the limb, so that a limb that is
    mostly outside the frame (Io overfilling it) is still sampled over a wide arc."""
    gl, gs = np.gradient(np.where(finite, dist, 0.0))
    ok = finite.copy()
    ok[[0, -1], :] = False
    ok[:, [0, -1]] = False
    ll, ss = np.nonzero(ok)
    if len(ll) < 6:
        raise NavigationError("too few pixels with a limb distance to define the predicted limb")
    near = np.abs(dist[ll, ss]) <= max(3.0, float(np.nanmin(np.abs(dist))) + 3.0)
    pick = np.unique(
        np.concatenate(
            [
                np.flatnonzero(near)[np.linspace(0, near.sum() - 1, min(1000, near.sum())).astype(int)]
                if near.any()
                else np.zeros(0, int),
                np.linspace(0, len(ll) - 1, min(1500, len(ll))).astype(int),
            ]
        )
    )
    ll, ss = ll[pick], ss[pick]
    g = np.column_stack([gs[ll, ss], gl[ll, ss]])
    g2 = np.sum(g * g, axis=1)
    good = (g2 > 0.25) & (g2 < 4.0)
    d = dist[ll, ss][good]
    pts = np.column_stack([ss, ll])[good] - (d / g2[good])[:, None] * g[good]
    pix = np.column_stack([ss, ll])[good].astype(float)
    return pts, g[good] / np.sqrt(g2[good])[:, None], pix, d


def _conic_from_distances(conic: np.ndarray, pix: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Polish a conic so that its signed distance reproduces the backplane's at ``pix`` (the backplane is
    computed with the same second-order distance formula, so the fit is exact for a true ellipse)."""
    if len(pix) > 400:
        pick = np.linspace(0, len(pix) - 1, 400).astype(int)
        pix, dist = pix[pick], dist[pick]
    iu = np.triu_indices(3)
    q0 = (conic / float(np.sqrt(np.sum(conic**2))))[iu]
    fixed = int(np.argmax(np.abs(q0)))  # the conic is homogeneous: hold its largest coefficient
    free = np.arange(6) != fixed

    def build(x):
        q = q0.copy()
        q[free] = x
        c = np.zeros((3, 3))
        c[iu] = q
        return c + np.triu(c, 1).T

    def res(x):
        return _conic_signed_distance(build(x), pix) - dist

    r0 = res(q0[free])
    if not np.all(np.isfinite(r0)) or float(np.max(np.abs(r0))) < 0.01:
        return conic if not np.all(np.isfinite(r0)) else build(q0[free])
    from scipy.optimize import least_squares  # imported when first needed (a worker's start-up: ~0.15 s)

    try:
        sol = least_squares(res, q0[free], method="lm", x_scale="jac", max_nfev=60)
    except ValueError:
        return conic
    r1 = sol.fun
    if np.all(np.isfinite(r1)) and float(r1 @ r1) < float(r0 @ r0):
        return build(sol.x)
    return conic


def _conic_from_backplane(dist: np.ndarray) -> np.ndarray:
    """The limb conic (f > 0 on the disk) that reproduces a ``limb_distance_px`` backplane: an algebraic
    fit to limb points, polished on the distances."""
    finite = np.isfinite(dist)
    if finite.sum() < 20:
        raise NavigationError("limb_distance_px backplane is empty")
    pts, inward, pix, d = _limb_points_from_distance(dist, finite)
    if len(pts) < 6:
        raise NavigationError("too few pixels near the predicted limb to define it")
    conic = _fit_conic(pts)
    # orient so that f > 0 inside: inside is where the limb distance increases
    probe = np.column_stack([pts + 5.0 * inward, np.ones(len(pts))])
    if float(np.mean(np.sum((probe @ conic) * probe, axis=1))) < 0:
        conic = -conic
    return _conic_from_distances(conic, pix, d)


def _model_from_backplanes(bp: Backplanes, crop: tuple | None = None) -> _LimbModel:
    """The predicted limb of ``bp``: its conic, sampled every pixel, lit by a Sun fitted to the incidence.

    ``crop`` = (frame shape, max shift): only the limb samples a shift can bring into view are kept
    (:func:`_crop_model`) before they are lit, and a limb with fewer than 12 of them is returned unlit (no
    fit can use it: the Sun is not fitted). The same numbers as lighting every sample and cropping after."""
    if "limb_distance_px" not in bp.arrays:
        raise NavigationError("backplanes have no limb_distance_px layer: cannot predict the limb")
    if bp.limb_conic_px is not None:  # the conic the backplane was computed from: nothing to fit
        conic = np.asarray(bp.limb_conic_px, dtype=float)
    else:
        conic = _conic_from_backplane(np.asarray(bp["limb_distance_px"], dtype=float))
    center, axes, vecs = _conic_to_ellipse(conic)
    conic = conic / float(np.append(center, 1.0) @ conic @ np.append(center, 1.0))
    model = _LimbModel(conic, center, axes, vecs, center.copy(), np.array([0.0, 0.0, 1.0]), None)
    _sample_ellipse(model, crop=crop)
    if crop is not None and len(model.points) < 12:
        return model
    sun = None
    if "incidence_deg" in bp.arrays:
        if bp.finite_on_disk("incidence_deg"):  # where it is finite is known: read it at the pixels fitted
            on = np.asarray(bp["on_disk"]) > 0
        else:
            on = np.isfinite(np.asarray(bp["incidence_deg"], dtype=float))
            on &= np.asarray(bp["on_disk"]) > 0
        flat = np.flatnonzero(on)  # np.nonzero's pixels in its order, as flat indices (~3× faster)
        if len(flat) >= 20:
            if len(flat) > 3000:
                flat = flat[np.linspace(0, len(flat) - 1, 3000).astype(int)]
            cos_inc = np.cos(np.radians(np.asarray(bp.values_at("incidence_deg", flat), dtype=float)))
            sun = _sun_fit(flat, on.shape[1], center, axes, vecs, cos_inc)
    if sun is None:  # no illumination known: treat the whole limb as a sharp lit edge
        model.sun_disk = np.array([0.0, 0.0, 1.0])
        model.cos_limb = np.ones_like(model.phi)
        model.cos_phase = np.zeros_like(model.phi)
    else:
        model.sun_disk = sun
        model.cos_limb = sun[0] * np.cos(model.phi) + sun[1] * np.sin(model.phi)
        model.cos_phase = np.full_like(model.phi, sun[2])
    return model


def _sun_fit(flat: np.ndarray, ns: int, center: np.ndarray, axes, vecs: np.ndarray, cos_inc: np.ndarray):
    """The Sun in the disk frame fitted to the cosines of the incidence ``cos_inc`` at the disk pixels
    ``flat`` (flat indices into rows of ``ns``): least squares of cos i = sun · (u, v, w), (u, v) the pixel's
    offset from ``center`` along the ellipse axes ``vecs``' columns ÷ ``axes``, w = √(1 − u² − v²). With
    :data:`SUN_NORMAL_EQUATIONS` by its normal equations gathered in one compiled pass
    (:func:`ioscan.geometry.limb_kernels.sun_normal_equations`) and solved 3 × 3 (``np.linalg.lstsq`` when
    they are ill-conditioned): the Sun of lstsq on the 3000 × 3 matrix to rounding (≤ 1e-12 on the 96
    limb fits of the 64 ``bench_scan`` frames)."""
    if LIMB_KERNELS and SUN_NORMAL_EQUATIONS:
        from ioscan.geometry import limb_kernels

        ata, atb = limb_kernels.sun_normal_equations(
            _readonly_index(flat), int(ns), *_readonly(center, vecs, np.asarray(axes, dtype=float), cos_inc)
        )
        if np.linalg.cond(ata) <= SUN_MAX_COND:
            return np.linalg.solve(ata, atb)
    li, si = np.divmod(flat, ns)
    uv = ((np.column_stack([si, li]) - center) @ vecs) / np.array(axes)
    w = np.sqrt(np.clip(1.0 - np.sum(uv * uv, axis=1), 0.0, None))
    return np.linalg.lstsq(np.column_stack([uv, w]), cos_inc, rcond=None)[0]


def _in_reach(points: np.ndarray, shape: tuple[int, int], max_shift: tuple[float, float], m: float = 12.0):
    """Whether each point lies within ``max_shift`` + ``m`` px of the frame of ``shape``."""
    nl, ns = shape
    x, y = points[:, 0], points[:, 1]
    return (
        (x >= -max_shift[0] - m)
        & (x <= ns - 1 + max_shift[0] + m)
        & (y >= -max_shift[1] - m)
        & (y <= nl - 1 + max_shift[1] + m)
    )


def _crop_model(model: _LimbModel, shape: tuple[int, int], max_shift: tuple[float, float]) -> None:
    """Keep only the limb samples that a shift within ``max_shift`` can bring into the frame (a close
    frame's limb is thousands of pixels long)."""
    keep = _in_reach(model.points, shape, max_shift)
    if keep.sum() < len(keep):
        if len(model.cos_limb) == len(keep):  # (an unlit model has no per-sample illumination yet)
            model.cos_limb, model.cos_phase = model.cos_limb[keep], model.cos_phase[keep]
        model.phi, model.points = model.phi[keep], model.points[keep]


def _circle_model(center, radius: float) -> _LimbModel:
    c = np.asarray(center, dtype=float)
    conic = np.array([[-1.0, 0, c[0]], [0, -1.0, c[1]], [c[0], c[1], radius**2 - c @ c]]) / radius**2
    model = _LimbModel(
        conic, c.copy(), (radius, radius), np.eye(2), c.copy(), np.array([0.0, 0.0, 1.0]), None
    )
    _sample_ellipse(model)
    model.cos_limb = np.ones_like(model.phi)
    model.cos_phase = np.zeros_like(model.phi)
    return model


# ------------------------------------------------------------------------------------- transforms, distance
def _rot_from_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    v = np.cross(a, b)
    s2 = float(v @ v)
    if s2 < 1e-30:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * ((1 - float(a @ b)) / s2)


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _unpack(p: np.ndarray, fit_scale: bool, fit_rotation: bool) -> tuple[float, float, float, float]:
    i = 2
    log_s = rot = 0.0
    if fit_scale:
        log_s = float(p[i])
        i += 1
    if fit_rotation:
        rot = float(p[i])
    return float(p[0]), float(p[1]), log_s, rot


def _camera_rotation(model: _LimbModel, ds: float, dl: float, rot: float) -> np.ndarray:
    """Rotation (camera basis) taking predicted to observed directions, for a centre shift and a twist."""
    kinv = np.linalg.inv(model.k_matrix)
    v0 = kinv @ np.append(model.body_center, 1.0)
    v1 = kinv @ np.append(model.body_center + (ds, dl), 1.0)
    v0, v1 = v0 / np.linalg.norm(v0), v1 / np.linalg.norm(v1)
    # twisting the camera by −rot about the line of sight turns the scene image by +rot (s → l)
    return _axis_angle(v1, rot) @ _rot_from_to(v0, v1)


def _homography(model: _LimbModel, ds: float, dl: float, log_s: float, rot: float) -> np.ndarray:
    c1 = model.body_center + (ds, dl)
    t1 = np.array([[1, 0, c1[0]], [0, 1, c1[1]], [0, 0, 1.0]])
    sc = np.diag([np.exp(log_s), np.exp(log_s), 1.0])
    if model.k_matrix is not None:
        r = _camera_rotation(model, ds, dl, rot)
        h = model.k_matrix @ r @ np.linalg.inv(model.k_matrix)
        return t1 @ sc @ np.linalg.inv(t1) @ h
    c0 = model.body_center
    cr, sr = np.cos(rot), np.sin(rot)
    rmat = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1.0]])
    return t1 @ rmat @ sc @ np.array([[1, 0, -c0[0]], [0, 1, -c0[1]], [0, 0, 1.0]])


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    x = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return x[:, :2] / x[:, 2:3]


def _transform_conic(conic: np.ndarray, h: np.ndarray) -> np.ndarray:
    hinv = np.linalg.inv(h)
    return hinv.T @ conic @ hinv


def _moved_conic(model: _LimbModel, ds: float, dl: float, log_s: float, rot: float) -> np.ndarray:
    """The predicted limb conic moved by :func:`_homography`. A pure translation of a backplane model (the
    scan's case) is built directly: the same numbers, bit for bit (the homography's product and inverse are
    exact there), 4× faster than the general path, which the least squares call ~100 times per fit."""
    if model.k_matrix is None and log_s == 0.0 and rot == 0.0:
        t = (model.body_center + (ds, dl)) - model.body_center
        hinv = np.array([[1.0, 0.0, -t[0]], [0.0, 1.0, -t[1]], [0.0, 0.0, 1.0]])
        return hinv.T @ model.conic @ hinv
    return _transform_conic(model.conic, _homography(model, ds, dl, log_s, rot))


def _homogeneous(pts: np.ndarray) -> np.ndarray:
    """(n, 2) pixel positions → (n, 3) homogeneous coordinates."""
    return np.column_stack([pts, np.ones(len(pts))])


def _conic_distance(conic: np.ndarray, pts: np.ndarray):
    """Signed distance of points to the conic (positive inside), and the outward unit normal there; ``pts``
    (n, 2) pixel positions or their (n, 3) homogeneous coordinates."""
    dist, g, gn = _conic_terms(conic, pts)
    with np.errstate(divide="ignore", invalid="ignore"):
        normal = -g / gn[:, None]
    return dist, normal


def _conic_signed_distance(conic: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The distance of :func:`_conic_distance` alone (the same numbers; what the least squares evaluate)."""
    return _conic_terms(conic, pts)[0]


def _conic_terms(conic: np.ndarray, pts: np.ndarray):
    """(signed distance, gradient (n, 2), its norm) of points to the conic. Sums over the 3 (2) components
    are written out in the order ``np.sum(axis=1)`` adds them: the same numbers, without its overhead."""
    x = pts if pts.shape[1] == 3 else _homogeneous(pts)
    cx = x @ conic
    p = cx * x
    f = p[:, 0] + p[:, 1]
    f += p[:, 2]
    g = 2.0 * cx[:, :2]
    g0, g1 = g[:, 0], g[:, 1]
    g2 = g0 * g0 + g1 * g1
    gn = np.sqrt(g2)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = 2.0 * (conic[0, 0] * g0**2 + 2 * conic[0, 1] * g0 * g1 + conic[1, 1] * g1**2)
        h = h / g2
        disc = g2 - 2.0 * h * f
        step = np.where(disc >= 0, -2.0 * f / (gn + np.sqrt(np.maximum(disc, 0.0))), -f / gn)
    return -step, g, gn


# ---------------------------------------------------------------------------------------------- the image
def _readonly(*arrays):
    """:func:`ioscan.geometry.compiled.readonly` (imported when first needed: it imports numba)."""
    from ioscan.geometry.compiled import readonly as views

    return views(*arrays)


def _readonly_index(idx: np.ndarray) -> np.ndarray:
    """:func:`ioscan.geometry.compiled.readonly_index` (imported when first needed: it imports numba)."""
    from ioscan.geometry.compiled import readonly_index

    return readonly_index(idx)


def _median(x: np.ndarray) -> float:
    """``np.median`` of a finite 1-D array, the same value: compiled (counting in value bins, ~4× faster than
    a partition), or by one partition (np.median also moves the maximum to the end to look for NaN: ~4×
    slower than that on a frame's worth of pixels)."""
    if LIMB_KERNELS and x.size:
        from ioscan.geometry import limb_kernels

        return float(limb_kernels.median(*_readonly(x)))
    n = x.size
    k = n // 2
    part = np.partition(x, k)
    return float(part[k]) if n % 2 else float((part[:k].max() + part[k]) / 2.0)


def _median_of(x: np.ndarray) -> float:
    """``float(np.median(x))`` of a 1-D array: :func:`_median` when it is finite and not empty (the same value
    without np.median's overhead on the few hundred values of a refinement pass), else np.median."""
    if x.size and np.isfinite(x).all():
        return _median(x)
    return float(np.median(x))


def _noise_step(shape: tuple[int, ...]) -> int:
    """The line step of the noise statistics on an image of ``shape`` (:data:`NOISE_SAMPLES`)."""
    if NOISE_SAMPLES <= 0:
        return 1
    return max(1, -(-int(shape[0]) * int(shape[1]) // NOISE_SAMPLES))


def _row_diffs_noise(a: np.ndarray, bad: np.ndarray, all_when_none: bool = True) -> np.ndarray:
    """:func:`_clean_row_diffs` on every :func:`_noise_step`-th line of ``a`` (from the first), or on every
    line when those hold fewer than :data:`NOISE_MIN_VALUES` good differences."""
    k = _noise_step(a.shape)
    if k > 1:
        d = _clean_row_diffs(np.ascontiguousarray(a[::k]), np.ascontiguousarray(bad[::k]), False)
        if d.size >= NOISE_MIN_VALUES:
            return d
    return _clean_row_diffs(a, bad, all_when_none)


def _mad(x: np.ndarray) -> float:
    """:func:`ioscan.robust.mad_sigma`, the same value, faster on whole frames (non-finite input: by it)."""
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0 or not np.isfinite(x.sum()):
        return mad_sigma(x)
    if LIMB_KERNELS:
        from ioscan.geometry import limb_kernels

        return float(MAD_TO_SIGMA * limb_kernels.median_abs_deviation(*_readonly(x)))
    return float(MAD_TO_SIGMA * _median(np.abs(x - _median(x))))


@dataclass
class _Prepared:
    box: np.ndarray  # pre-smoothed image of the box prepared (``crop``), NaNs and hot spots filled
    bad: np.ndarray  # pixels not to be crossed by an edge ray (missing, compact sources), whole frame
    grad_noise: float  # 1σ noise of the brightness derivative, image units per pixel
    valid: np.ndarray
    smooth_sigma: float  # Gaussian pre-smoothing applied, pixels
    crop: tuple[slice, slice] | None = None  # the box prepared (None: whole frame); beyond it: edge values
    _coef: np.ndarray | None = None
    _coef_box: np.ndarray | None = None
    _smooth: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """The frame's (lines, samples)."""
        return self.bad.shape

    @property
    def smooth(self) -> np.ndarray:
        """The pre-smoothed whole frame (beyond the box: its edge values), made when first read (the limb
        fit reads only the box and its spline coefficients)."""
        if self._smooth is None:
            self._smooth = self.box if self.crop is None else _pad_to(self.box, self.crop, self.shape)
        return self._smooth

    @property
    def coef_box(self) -> np.ndarray:
        """Cubic-spline coefficients of ``box``, made when the edge search first reads them (a band whose
        fit stops at the coarse step, or is not refined, never needs them); the frame's pixel (line, sample)
        is the box's (line, sample) − :attr:`origin`."""
        if self._coef_box is None:
            self._coef_box = _spline_filter(self.box)
        return self._coef_box

    @property
    def origin(self) -> tuple[int, int]:
        """The frame's (line, sample) of the box's first pixel."""
        return (0, 0) if self.crop is None else (self.crop[0].start, self.crop[1].start)

    @property
    def coef(self) -> np.ndarray:
        """:attr:`coef_box` extended to the whole frame with its edge values (the same spline values: the
        taps beyond the box are its edge's either way)."""
        if self._coef is None:
            c = self.coef_box
            self._coef = c if self.crop is None else _pad_to(c, self.crop, self.shape)
        return self._coef


def _gaussian_nearest(a: np.ndarray, sigma: float) -> np.ndarray:
    """``ndimage.gaussian_filter(a, sigma, mode="nearest")`` (truncated at 4σ): compiled
    (:func:`ioscan.geometry.limb_kernels.gaussian_nearest`, scipy's weights and symmetric sums in its
    order) for 2-D arrays, the same numbers."""
    if not (LIMB_KERNELS and a.ndim == 2 and sigma > 1e-15):
        return ndimage.gaussian_filter(a, sigma, mode="nearest")
    from ioscan.geometry import limb_kernels

    radius = int(4.0 * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)  # scipy's _gaussian_kernel1d, reversed as it correlates
    weights = (phi / phi.sum())[::-1]
    return limb_kernels.gaussian_nearest(*_readonly(a, weights))


def _spline_filter(a: np.ndarray) -> np.ndarray:
    """``ndimage.spline_filter(a, order=3, mode="nearest")``: compiled
    (:func:`ioscan.geometry.limb_kernels.spline_filter`, scipy's recursions in its order), the same
    numbers."""
    if LIMB_KERNELS and a.ndim == 2:
        from ioscan.geometry import limb_kernels

        return limb_kernels.spline_filter(*_readonly(np.ascontiguousarray(a, dtype=float)))
    return ndimage.spline_filter(a, order=3, mode="nearest")


def _pad_to(a: np.ndarray, crop: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """``a`` (the ``crop`` of a frame of ``shape``) extended to the whole frame with its edge values
    (``np.pad(..., mode="edge")``, without its overhead)."""
    (l0, l1), (s0, s1) = (crop[0].start, crop[0].stop), (crop[1].start, crop[1].stop)
    out = np.empty(shape, dtype=a.dtype)
    out[l0:l1, s0:s1] = a
    out[l0:l1, :s0] = a[:, :1]
    out[l0:l1, s1:] = a[:, -1:]
    out[:l0] = out[l0]
    out[l1:] = out[l1 - 1]
    return out


def _limb_box(
    model: _LimbModel, shape: tuple[int, int], max_shift: tuple[float, float], margin_px: float, f: int = 1
) -> tuple[slice, slice] | None:
    """The frame's part a limb fit can read: the predicted disk's bounding box widened by the search window
    and ``margin_px`` (the coarse step's template margin, the edge rays' length), in (line, sample) slices
    on the coarse step's ``f`` × ``f`` bins; None when that is the whole frame."""
    half = np.sqrt((model.axes_px**2) @ np.square(model.semi_axes))
    lo = np.floor((model.center - half - np.asarray(max_shift) - margin_px) / f) * f
    hi = np.ceil((model.center + half + np.asarray(max_shift) + margin_px + 1) / f) * f
    s0, s1 = int(np.clip(lo[0], 0, shape[1])), int(np.clip(hi[0], 0, shape[1]))
    l0, l1 = int(np.clip(lo[1], 0, shape[0])), int(np.clip(hi[1], 0, shape[0]))
    if (l0, l1, s0, s1) == (0, shape[0], 0, shape[1]) or s1 - s0 < 16 or l1 - l0 < 16:
        return None
    return slice(l0, l1), slice(s0, s1)


def _line_opening(img: np.ndarray, length: int) -> np.ndarray:
    """Largest of the grey openings by straight lines of ``length`` px along rows, columns and both
    diagonals: keeps edges and ridges along those directions but removes compact sources. Compiled
    (:func:`ioscan.geometry.limb_kernels.line_opening`) for finite images, the same numbers."""
    if LIMB_KERNELS and np.isfinite(img).all():
        from ioscan.geometry import limb_kernels

        return limb_kernels.line_opening(*_readonly(img), int(length))
    return _line_opening_numpy(img, length)


def _line_opening_numpy(img: np.ndarray, length: int, steps=((0, 1), (1, 0), (1, 1), (1, -1))) -> np.ndarray:
    """:func:`_line_opening` by numpy: the largest of the grey openings by straight lines of ``length`` px
    in the ``steps`` directions ((line, sample) steps)."""
    half = length // 2
    nl, ns = img.shape

    def line_filter(a: np.ndarray, step: tuple[int, int], op) -> np.ndarray:
        padded = np.pad(a, half, mode="edge")
        out = None
        for k in range(-half, half + 1):
            view = padded[
                half + k * step[0] : half + k * step[0] + nl, half + k * step[1] : half + k * step[1] + ns
            ]
            out = view.copy() if out is None else op(out, view, out=out)
        return out

    best = None
    for step in steps:
        opened = line_filter(line_filter(img, step, np.minimum), step, np.maximum)
        best = opened if best is None else np.maximum(best, opened, out=best)
    return best


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """Indices beyond [0, n) mirrored into it as scipy.ndimage's mode "reflect" does (d c b a | a b c d)."""
    i = np.where(i < 0, -i - 1, i)
    return np.where(i >= n, 2 * n - 1 - i, i)


def _opening_for_sources(
    filled: np.ndarray, size: int, floor: float, grow: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """The line opening of ``filled`` (:func:`_line_opening`) that :func:`_compact_sources` reads, and the
    candidates it would find, (lines, samples) in :func:`np.nonzero`'s order, with whether each is a source
    (1, 0; −1: to be decided there); None: not known, found there. Compiled
    (:func:`ioscan.geometry.limb_kernels.opening_near_sources`, finite images at least ``size`` px wide):
    the opening is made only where the search reads it — the pixels that its row and column erosions
    (lower bounds of it) leave more than ``floor`` below ``filled``, the neighbourhoods of the candidates
    whose local surface its bounds (the erosion, ``filled``) do not decide, the grown boxes — and
    ``filled`` stands elsewhere (where nothing reads it): the same mask and fill as the whole opening's."""
    if LIMB_KERNELS and min(filled.shape) >= size and np.isfinite(filled).all():
        from ioscan.geometry import limb_kernels

        opened, ll, ss, state = limb_kernels.opening_near_sources(
            *_readonly(filled), int(size), float(floor), int(size), int(grow), float(HOT_SPOT_CONTRAST)
        )
        return opened, (ll, ss, state)
    return _line_opening(filled, size), None


def _compact_sources(
    filled: np.ndarray,
    opened: np.ndarray,
    floor: float,
    size: int,
    grow: int,
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Pixels of compact sources, grown by ``grow`` × ``grow`` px: where ``filled`` exceeds its line opening
    by more than ``floor`` and by more than :data:`HOT_SPOT_CONTRAST` × the local surface (the ``size`` ×
    ``size`` mean of the opening, clipped at 0, mode "reflect"). That mean is taken at the few pixels above
    the floor only, and the growing is a box around each source pixel (``ndimage.uniform_filter`` and
    ``maximum_filter`` over the whole box: the same mask, the means rounded in another order).
    ``candidates``: the pixels above the floor and whether each is a source (−1: not decided), when already
    known (:func:`_opening_for_sources`); the undecided are decided here as the others would be."""
    hot = np.zeros(filled.shape, dtype=bool)
    if candidates is None:
        ll, ss = np.nonzero((filled - opened) > floor)
        state = np.full(len(ll), -1, dtype=np.int8)
    else:
        ll, ss, state = candidates
    if not len(ll):
        return hot
    h = size // 2
    k = np.arange(-h, size - h)
    src = state == 1
    todo = np.flatnonzero(state < 0)
    if len(todo):
        lt, st = ll[todo], ss[todo]
        rows = _reflect(lt[:, None] + k, filled.shape[0])
        cols = _reflect(st[:, None] + k, filled.shape[1])
        local = np.clip(opened[rows[:, :, None], cols[:, None, :]], 0.0, None).mean(axis=(1, 2))
        src[todo] = (filled[lt, st] - opened[lt, st]) > HOT_SPOT_CONTRAST * local
    ll, ss = ll[src], ss[src]
    if LIMB_KERNELS:
        from ioscan.geometry import limb_kernels

        return limb_kernels.grow_marks(
            filled.shape[0], filled.shape[1], ll.astype(np.int64), ss.astype(np.int64), int(grow)
        )
    g = grow // 2
    for dl in range(-g, grow - g):
        for ds in range(-g, grow - g):
            hot[np.clip(ll + dl, 0, filled.shape[0] - 1), np.clip(ss + ds, 0, filled.shape[1] - 1)] = True
    return hot


def _prepare(
    image: np.ndarray, psf_sigma_px: float, mask_hot_spots: bool, crop: tuple[slice, slice] | None = None
) -> _Prepared:
    """The image as the limb fit reads it: missing pixels and compact sources filled (and marked bad), pre-
    smoothed, with the gradient noise that sets the edge thresholds. With ``crop`` only that box is prepared
    (its noise statistics are the box's); beyond it every pixel is bad and holds the box's edge values."""
    full = np.asarray(image, dtype=float)
    valid_full = np.isfinite(full)
    if valid_full.sum() < 0.5 * full.size:
        raise ValueError("more than half of the pixels are missing")
    img = full if crop is None else full[crop]
    valid = valid_full if crop is None else valid_full[crop]
    if crop is not None and valid.sum() < 0.5 * valid.size:
        crop, img, valid = None, full, valid_full  # a box mostly missing: the whole frame's statistics
    bad = ~valid
    filled = np.where(valid, img, _median(img[valid])) if bad.any() else img
    if mask_hot_spots:
        size = 2 * int(np.ceil(2 * psf_sigma_px)) + 3
        noise = _mad(_row_diffs_noise(filled, bad, all_when_none=False)) / np.sqrt(2)  # bad = ~valid here
        floor = max(5.0 * noise, 1e-3 * float(np.ptp(filled)), 1e-300)
        # compact sources: well above the noise and a good fraction above the local surface (albedo texture
        # on a bright disk is not a source); the 1e-3 of the frame's range matters only for noise-free data
        grow = 2 * int(np.ceil(psf_sigma_px)) + 1
        opened, cand = _opening_for_sources(filled, size, floor, grow)
        hot = _compact_sources(filled, opened, floor, size, grow, cand)
        filled = np.where(hot, opened, filled)
        bad |= hot
    smooth_sigma = max(SMOOTH_SIGMA_PX, 0.7 * psf_sigma_px)  # ~matched to the edge width
    smooth = _gaussian_nearest(filled, smooth_sigma)
    grad_noise = _mad(_row_diffs_noise(smooth, bad))
    if crop is None:
        return _Prepared(smooth, bad, max(grad_noise, 1e-30), valid, smooth_sigma)
    bad_full = np.ones(full.shape, dtype=bool)
    bad_full[crop] = bad
    return _Prepared(smooth, bad_full, max(grad_noise, 1e-30), valid_full, smooth_sigma, crop)


def _clean_row_diffs(a: np.ndarray, bad: np.ndarray, all_when_none: bool = True) -> np.ndarray:
    """The differences along the samples between neighbours that are both good, in C order (all of them
    when no pixel is bad, or, with ``all_when_none``, when no pair is good): ``np.diff(a, axis=1)`` masked;
    compiled in one pass (the same values, in the same order)."""
    if LIMB_KERNELS and a.ndim == 2 and a.shape[1] > 1:
        from ioscan.geometry import limb_kernels

        return limb_kernels.clean_row_diffs(*_readonly(a, bad), all_when_none)
    gx = np.diff(a, axis=1)
    if bad.any():
        ok = ~(bad[:, 1:] | bad[:, :-1])
        return gx[ok] if ok.any() or not all_when_none else gx.ravel()
    return gx.ravel()


def _render_template(
    model: _LimbModel, shape: tuple[int, int], origin: tuple[int, int], factor: int
) -> tuple[np.ndarray, int, int]:
    """Approximate predicted disk brightness (Lambert, orthographic) on a canvas of ``shape`` binned pixels;
    canvas pixel (0, 0) is at predicted coordinates ``origin`` = (sample, line). Only the disk's bounding
    box is rendered (the canvas is 0 elsewhere): returns that box and the canvas (line, sample) of its
    first pixel (an empty box when the disk is off the canvas)."""
    # the ellipse's half-extents along samples and lines, and so the canvas box that holds it
    half = np.sqrt((model.axes_px**2) @ np.square(model.semi_axes))
    lo = np.floor((model.center - half + 0.5 - np.asarray(origin, dtype=float)) / factor - 0.5) - 1
    hi = np.ceil((model.center + half + 0.5 - np.asarray(origin, dtype=float)) / factor - 0.5) + 2
    s0, s1 = int(np.clip(lo[0], 0, shape[1])), int(np.clip(hi[0], 0, shape[1]))
    l0, l1 = int(np.clip(lo[1], 0, shape[0])), int(np.clip(hi[1], 0, shape[0]))
    if s1 <= s0 or l1 <= l0:
        return np.zeros((0, 0)), 0, 0
    if LIMB_KERNELS:
        from ioscan.geometry import limb_kernels

        box = limb_kernels.render_template(
            l0,
            l1,
            s0,
            s1,
            float(origin[0]),
            float(origin[1]),
            int(factor),
            *_readonly(
                *(
                    np.asarray(a, dtype=float)
                    for a in (model.center, model.axes_px, model.semi_axes, model.sun_disk)
                )
            ),
        )
        return box, l0, s0
    ll, ss = np.mgrid[l0:l1, s0:s1].astype(float)
    s = origin[0] + (ss + 0.5) * factor - 0.5
    ln = origin[1] + (ll + 0.5) * factor - 0.5
    rel = np.stack([s - model.center[0], ln - model.center[1]], axis=-1) @ model.axes_px
    uv = rel / np.array(model.semi_axes)
    r2 = np.sum(uv * uv, axis=-1)
    w = np.sqrt(np.clip(1.0 - r2, 0.0, None))
    cos_i = uv[..., 0] * model.sun_disk[0] + uv[..., 1] * model.sun_disk[1] + w * model.sun_disk[2]
    return np.where(r2 < 1.0, np.clip(cos_i, 0.0, None) + 0.05, 0.0), l0, s0


def _bin(a: np.ndarray, f: int) -> np.ndarray:
    """Means of ``f`` × ``f`` blocks (compiled for f < 8 and ≥ 2 blocks per line: the same numbers; numpy
    sums a single column of blocks in another order)."""
    if f == 1:
        return a
    if LIMB_KERNELS and f < 8 and a.shape[1] // f >= 2:
        from ioscan.geometry import limb_kernels

        return limb_kernels.bin_mean(*_readonly(a), int(f))
    nl, ns = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:nl, :ns].reshape(nl // f, f, ns // f, f).mean(axis=(1, 3))


def _bin_any(a: np.ndarray, f: int) -> np.ndarray:
    """Binned ``f`` × ``f`` boolean mask: True where any pixel of the bin is (``_bin(a, f) > 0``, faster)."""
    if f == 1:
        return a.copy()
    if LIMB_KERNELS:
        from ioscan.geometry import limb_kernels

        return limb_kernels.bin_any(*_readonly(a), int(f))
    nl, ns = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:nl, :ns].reshape(nl // f, f, ns // f, f).any(axis=(1, 3))


def _lag_correlate(image_part, at_image, tpl, at_tpl, lags) -> np.ndarray:
    """Linear cross-correlation ``c[dl, ds] = Σ_x image(x + (dl, ds)) · tpl(x)`` at the ``lags`` ((dl...),
    (ds...)), both arrays zero outside their boxes, which start at canvas (line, sample) ``at_image`` and
    ``at_tpl``. By FFT at the smallest fast length that does not wrap (tens of times smaller than the whole
    search canvas for a small disk searched ±160 lines). Tuples of equally shaped images and templates give
    the sum of their correlations (one inverse transform)."""
    from scipy import fft as sfft

    parts = image_part if isinstance(image_part, tuple) else (image_part,)
    tpls = tpl if isinstance(tpl, tuple) else (tpl,)
    n_c, n_t = parts[0].shape, tpls[0].shape
    # lag k puts the template's first pixel on the image box's pixel u = k + at_tpl − at_image
    u = [np.asarray(k) + at_tpl[i] - at_image[i] for i, k in enumerate(lags)]
    ok = [(v > -n_t[i]) & (v < n_c[i]) for i, v in enumerate(u)]  # else the boxes do not overlap: 0
    size = tuple(_wrap_free_len(n_c[i], n_t[i], u[i][ok[i]]) for i in range(2))
    dt = np.float32 if COARSE_FFT_FLOAT32 else float
    spec = sum(
        sfft.rfft2(a.astype(dt, copy=False), s=size) * np.conj(sfft.rfft2(b.astype(dt, copy=False), s=size))
        for a, b in zip(parts, tpls, strict=True)
    )
    xc = sfft.irfft2(spec, s=size)
    out = xc[np.ix_(u[0] % size[0], u[1] % size[1])].astype(float, copy=False)
    return np.where(ok[0][:, None] & ok[1][None, :], out, 0.0)


def _wrap_free_len(n_image: int, n_template: int, needed: np.ndarray) -> int:
    """The shortest fast transform length (along one axis) whose circular correlation of an image of
    ``n_image`` and a template of ``n_template`` px equals the linear one at the ``needed`` offsets u (in
    (−``n_template``, ``n_image``)): the linear correlation is 0 beyond that range, so its copies u ± N stay
    off the needed offsets when N ≥ n_image − min(u) and N ≥ max(u) + n_template (and both arrays fit:
    N ≥ n_image, n_template); at most the full n_image + n_template − 1 (~40 % shorter along samples for a
    band that sees part of a large disk)."""
    from scipy import fft as sfft

    full = n_image + n_template - 1
    if needed.size == 0:
        return sfft.next_fast_len(full, real=True)
    n = max(n_image - int(needed.min()), int(needed.max()) + n_template, n_image, n_template)
    return sfft.next_fast_len(min(n, full), real=True)


def _bin_factor(model: _LimbModel, shape: tuple[int, int]) -> int:
    """The coarse step's binning: the disk ~40 binned pixels across, but ≥ 24 binned lines and samples."""
    return max(1, min(int(model.radius // 20), min(shape) // 24))


def _coarse_gradients(tpl: np.ndarray, img: np.ndarray, bad: np.ndarray, sig: float):
    """The coarse step's smoothed gradients and clean pixels: ``np.gradient`` of the template smoothed by
    ``ndimage.gaussian_filter(tpl, sig)`` (mode "reflect") and of the binned image by
    :func:`_gaussian_nearest`, and where no bad pixel lies within 2 binned pixels nor within 2 of the edge.
    Compiled (:mod:`ioscan.geometry.limb_kernels`: ``gaussian_reflect``, ``gradients``, ``keep_clear``)
    when every side is longer than the filter's half-width: the same numbers."""
    radius = int(4.0 * float(sig) + 0.5)
    if LIMB_KERNELS and min(tpl.shape) > radius and min(img.shape) > radius:
        from ioscan.geometry import limb_kernels

        x = np.arange(-radius, radius + 1)
        phi = np.exp(-0.5 / (sig * sig) * x**2)
        weights = (phi / phi.sum())[::-1]
        t_s = limb_kernels.gaussian_reflect(*_readonly(tpl, weights))
        i_s = limb_kernels.gaussian_nearest(*_readonly(img, weights))
        keep = limb_kernels.keep_clear(*_readonly(bad), 2, 2)
        return limb_kernels.gradients(*_readonly(t_s)), limb_kernels.gradients(*_readonly(i_s)), keep
    tgl, tgs = np.gradient(ndimage.gaussian_filter(tpl, sig))
    igl, igs = np.gradient(_gaussian_nearest(img, sig))
    keep = ndimage.maximum_filter(bad.astype(np.uint8), size=5) == 0
    keep[:2, :] = keep[-2:, :] = False
    keep[:, :2] = keep[:, -2:] = False
    return (tgl, tgs), (igl, igs), keep


def _coarse_shift(prep: _Prepared, model: _LimbModel, max_shift: tuple[float, float], f: int | None = None):
    """Integer-ish (ds, dl) maximising the normalised gradient cross-correlation, with its peak SNR.

    Canvas: the binned image padded by the search window, the predicted template on it. Only the template's
    box (the disk's, widened by the smoothing) and the part of the image the searched lags can bring onto it
    are correlated: the same sums as over the whole canvas."""
    f = _bin_factor(model, prep.shape) if f is None else f
    img = _bin(prep.smooth, f)
    bad = _bin_any(prep.bad, f)
    nl, ns = img.shape
    ps = int(np.ceil(max_shift[0] / f)) + 2
    pl = int(np.ceil(max_shift[1] / f)) + 2
    shape = (nl + 2 * pl, ns + 2 * ps)
    box, l0, s0 = _render_template(model, shape, (-ps * f, -pl * f), f)
    if box.size == 0:
        return None
    sig = 1.0
    # the smoothed template's gradient is 0 beyond 4σ + 1 px of the box: widen it by 7 px (within the canvas,
    # whose own edges keep the reflecting boundary the whole-canvas filter had)
    m = 7
    t0 = (max(l0 - m, 0), max(s0 - m, 0))
    t1 = (min(l0 + box.shape[0] + m, shape[0]), min(s0 + box.shape[1] + m, shape[1]))
    tpl = np.zeros((t1[0] - t0[0], t1[1] - t0[1]))
    tpl[l0 - t0[0] : l0 - t0[0] + box.shape[0], s0 - t0[1] : s0 - t0[1] + box.shape[1]] = box
    (tgl, tgs), (igl, igs), keep = _coarse_gradients(tpl, img, bad, sig)
    dl_idx = np.arange(-pl + 2, pl - 1)
    ds_idx = np.arange(-ps + 2, ps - 1)
    # the image (at canvas offset (pl, ps)) rows and columns that some searched lag brings onto the template
    c0 = (max(t0[0] + dl_idx[0], pl), max(t0[1] + ds_idx[0], ps))
    c1 = (min(t1[0] + dl_idx[-1], pl + nl), min(t1[1] + ds_idx[-1], ps + ns))
    if c1[0] <= c0[0] or c1[1] <= c0[1]:
        return None
    part = (slice(c0[0] - pl, c1[0] - pl), slice(c0[1] - ps, c1[1] - ps))
    kp = keep[part]
    lags = (dl_idx, ds_idx)
    sub_c = _lag_correlate(
        (np.where(kp, igs[part], 0.0), np.where(kp, igl[part], 0.0)), c0, (tgs, tgl), t0, lags
    )
    sub_e = _lag_correlate(kp.astype(float), c0, tgs * tgs + tgl * tgl, t0, lags)
    emax = float(sub_e.max())
    if emax <= 0:
        return None
    score = np.where(sub_e > 0.15 * emax, sub_c / np.sqrt(np.maximum(sub_e, 1e-300)), -np.inf)
    il, is_ = np.unravel_index(int(np.argmax(score)), score.shape)
    # under pure noise the normalised score is Gaussian with the std of one image-gradient component
    vals = igs[keep]
    if NOISE_SAMPLES > 0 and vals.size > NOISE_SAMPLES:  # every k-th (the same on the box and the frame)
        vals = vals[:: -(-vals.size // NOISE_SAMPLES)]
    g_noise = _mad(vals)
    snr = float(score[il, is_]) / max(g_noise, 1e-300)
    return float(ds_idx[is_] * f), float(dl_idx[il] * f), snr, f


# ------------------------------------------------------------------------------------------- edge search
def _edge_bias(cos_limb: np.ndarray, cos_phase: np.ndarray, radius: float, sigma: float) -> np.ndarray:
    """Inward offset (px) of the blurred-gradient maximum from the true limb for a Lambert sphere (compiled,
    :func:`ioscan.geometry.limb_kernels.edge_bias`, when :data:`LIMB_KERNELS`: the same numbers)."""
    step = 0.1
    half = 4.0 * sigma + 2.0
    x = np.arange(-half, half + step / 2, step)
    sd = sigma / step
    lw = int(3.5 * sd + 0.5)
    if LIMB_KERNELS and len(x) > max(lw, 2) and sd > 1e-15:
        from ioscan.geometry import limb_kernels

        g = np.arange(-lw, lw + 1)
        phi = np.exp(-0.5 / (sd * sd) * g**2)  # gaussian_filter1d's weights (truncate 3.5), reversed
        w = (phi / phi.sum())[::-1]
        return limb_kernels.edge_bias(
            *_readonly(cos_limb, cos_phase), float(radius), *_readonly(x, w), float(step)
        )
    depth = np.clip(x, 0.0, None) / radius
    prof = cos_limb[:, None] * (1.0 - depth) + cos_phase[:, None] * np.sqrt(
        np.clip(2 * depth - depth**2, 0, None)
    )
    prof = np.where(x >= 0, np.clip(prof, 0.0, None), 0.0)
    blurred = ndimage.gaussian_filter1d(prof, sigma / step, axis=1, mode="nearest", truncate=3.5)
    deriv = np.gradient(blurred, step, axis=1)
    k = np.clip(np.argmax(deriv, axis=1), 1, len(x) - 2)
    rows = np.arange(len(k))
    y0, y1, y2 = deriv[rows, k - 1], deriv[rows, k], deriv[rows, k + 1]
    den = y0 - 2 * y1 + y2
    off = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
    return x[k] + off * step


def _edge_bias_along(cos_limb: np.ndarray, cos_phase: np.ndarray, radius: float, sigma: float) -> np.ndarray:
    """:func:`_edge_bias` of many limb rays: where the phase term is the same on every ray (a backplane
    model's) interpolated between :data:`BIAS_NODES` values of the incidence term (within 0.01 px of the
    per-ray values, whose own 0.1-px profile grid makes them jagged by ~0.005 px; ~10× faster)."""
    if len(cos_limb) <= 2 * BIAS_NODES or np.ptp(cos_phase) != 0 or not BIAS_NODES:
        return _edge_bias(cos_limb, cos_phase, radius, sigma)
    nodes = np.linspace(float(cos_limb.min()), float(cos_limb.max()), BIAS_NODES)
    return np.interp(cos_limb, nodes, _edge_bias(nodes, np.full(BIAS_NODES, cos_phase[0]), radius, sigma))


def _measure_edges(
    prep: _Prepared,
    pts: np.ndarray,
    normals: np.ndarray,
    half_width: float,
    clean_radius: float,
    group: int = 1,
    edge_sigma: float = 1.0,
    step: float = 0.25,
    need: np.ndarray | None = None,
    sharp: np.ndarray | None = None,
    samples: dict | None = None,
):
    """Sub-pixel position (along the outward normal) of the steepest brightness drop on each ray.

    With ``group`` > 1 the profiles of ``group`` consecutive rays (1 px apart along the limb, each relative
    to its own predicted limb point) are averaged first and one edge per group is returned, at the group's
    middle ray: this raises the edge SNR of faint limbs by ~√(group/2) (neighbouring rays share noise).

    Only the rays that can give a usable edge are sampled: those whose search segment reaches the frame's
    interior and, with ``need`` (per ray; for a group, its middle ray's), the rays asked for; the others are
    reported unusable (their other outputs are meaningless).

    ``sharp`` (per ray; the night-side rays, whose limb is a thermal step with no sunlight inside): on those
    rays the drop must also be a blurred step, not a wide fade: its height over ± 2 clean radii at most
    :data:`NIGHT_STEP_MAX` × a blurred step's with the same steepest slope. A terminator's fade (sunlight
    dying away over many pixels) is otherwise the steepest drop that a dark night limb's ray finds.

    ``samples`` (a dict, empty at first; compiled path): the rays' profile samples shared by the calls of one
    pass (the same ``pts``, ``normals``, ``half_width``, ``clean_radius`` and ``step``): a ray an earlier
    call sampled is copied from it, not sampled again (the same numbers: the same spline at the same
    positions), and the rays this call samples are added to it (by reference: no copy).

    Returns (idx, t_edge, strength, noise_factor, usable, in_view): the rays the edges belong to, the edge
    positions and brightness drops, the noise of the drop relative to one ray's, usable (edge ±
    ``clean_radius`` inside the frame, clear of missing pixels and compact sources) and in_view (limb point
    in the frame)."""
    ext = 2.0 * clean_radius  # profile beyond the search range, for the step test
    t = np.arange(-half_width - ext, half_width + ext + step / 2, step)
    nl, ns = prep.shape
    n = len(pts)
    in_view = (pts[:, 0] >= 0) & (pts[:, 0] <= ns - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= nl - 1)
    # a ray whose search segment stays ≥ 1 px outside the interior [1, n − 2] has only bad samples near
    # any edge it could find
    out_s = np.maximum(np.maximum(1.0 - pts[:, 0], pts[:, 0] - (ns - 2)), 0.0)
    out_l = np.maximum(np.maximum(1.0 - pts[:, 1], pts[:, 1] - (nl - 2)), 0.0)
    sample = np.hypot(out_s, out_l) <= half_width + 1.0
    grouped = group > 1 and n >= group
    if grouped:
        n_g = n // group
        members = np.arange(n_g * group).reshape(n_g, group)
        if need is not None:
            wanted = np.zeros(n, dtype=bool)
            wanted[members[need[members[:, group // 2]]].ravel()] = True
            sample &= wanted
    elif need is not None:
        sample &= need
    rows = np.flatnonzero(sample)
    prof = np.zeros((n, len(t)))
    badpix = np.ones((n, len(t)), dtype=bool)
    search = np.abs(t[1:-1]) <= half_width
    lo, hi = int(np.argmax(search)), int(len(search) - 1 - np.argmax(search[::-1]))
    # the profiles are interpolated where the edge search reads them (the drop at t[lo + 1 .. hi + 1] and
    # its neighbours); beyond, only at the two levels the step test reads (below)
    core = slice(max(lo - 2, 0), min(hi + 5, len(t)))
    if len(rows) and LIMB_KERNELS:
        if samples is None:
            _ray_samples(prep, pts, normals, rows, t, core, prof, badpix)
        else:
            _shared_ray_samples(prep, pts, normals, rows, t, core, prof, badpix, samples)
    elif len(rows):
        xs = pts[rows, 0, None] + t * normals[rows, 0, None]
        ys = pts[rows, 1, None] + t * normals[rows, 1, None]
        prof[rows, core] = _spline_at(prep, xs[:, core], ys[:, core])
        ri = np.clip(np.rint(ys).astype(int), 0, nl - 1)
        ci = np.clip(np.rint(xs).astype(int), 0, ns - 1)
        badpix[rows] = prep.bad[ri, ci] | ~((xs >= 1) & (xs <= ns - 2) & (ys >= 1) & (ys <= nl - 2))
    if LIMB_KERNELS and not grouped:  # the search below, compiled: the same numbers
        found = _edge_search(
            prep,
            (prof, badpix, sample, t),
            (lo, hi),
            core,
            (clean_radius, ext, edge_sigma, step),
            sharp,
            (pts, normals),
        )
        if found is not None:
            return np.arange(n), found[0], found[1], np.ones(n), found[2], in_view
    if LIMB_KERNELS and grouped:  # the grouped search below, compiled: the same numbers
        contiguous = np.all(np.hypot(*np.diff(pts[members], axis=1).transpose(2, 0, 1)) < 2.0, axis=1)
        found = _group_edge_search(
            prep,
            (prof, badpix, sample, t),
            (members, contiguous),
            (lo, hi),
            core,
            (clean_radius, ext, edge_sigma, step),
            sharp,
            (pts, normals),
        )
        if found is not None:
            idx = members[:, group // 2]
            noise_factor = np.minimum(1.0, np.sqrt(2.0 / np.maximum(found[3], 1.0)))
            return idx, found[0], found[1], noise_factor, found[2], in_view[idx]
    members_prof = prof
    idx = np.arange(n)
    noise_factor = np.ones(n)
    if grouped:
        w = (~badpix[members]).astype(float)  # (groups, group, t): bad samples are left out
        cnt = w.sum(axis=1)
        contiguous = np.all(np.hypot(*np.diff(pts[members], axis=1).transpose(2, 0, 1)) < 2.0, axis=1)
        prof = np.einsum("gkt,gkt->gt", w, members_prof[members]) / np.maximum(cnt, 1.0)
        idx = members[:, group // 2]
        badpix = (cnt < max(2.0, group / 2.0)) | ~contiguous[:, None]
        noise_factor = np.minimum(1.0, np.sqrt(2.0 / np.maximum(cnt.min(axis=1), 1.0)))
        in_view = in_view[idx]
    drop = -(prof[:, 2:] - prof[:, :-2]) / (2 * step)
    k = np.argmax(np.where(search[None, :], drop, -np.inf), axis=1)
    interior = (k >= lo + 1) & (k <= hi - 1)
    k = np.clip(k, 1, drop.shape[1] - 2)
    out_rows = np.arange(len(k))
    y0, y1, y2 = drop[out_rows, k - 1], drop[out_rows, k], drop[out_rows, k + 1]
    den = y0 - 2 * y1 + y2
    off = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
    t_edge = t[1:-1][k] + np.clip(off, -1, 1) * step
    # the part of the ray that shapes the edge must be in the frame and clean
    near = np.abs(t[None, :] - t_edge[:, None]) <= clean_radius
    clean = ~(badpix & near).any(axis=1)
    # a limb is a step (bright inside stays bright), not a thin ridge (a column streak, a cosmic ray): the
    # level 2 clean radii inside must exceed the level outside by half the height of a blurred step
    j_in, j_out = _interp_col(t_edge - ext, t), _interp_col(t_edge + ext, t)
    cols = np.column_stack([j_in, j_in + 1, j_out, j_out + 1])  # the samples those levels interpolate
    if grouped:
        rr, cc = np.repeat(members.ravel(), 4), np.repeat(cols, group, axis=0).ravel()
    else:
        rr, cc = np.repeat(np.arange(n), 4), cols.ravel()
    fill = sample[rr] & ((cc < core.start) | (cc >= core.stop))
    if fill.any():
        rr, cc = rr[fill], cc[fill]
        xs = pts[rr, 0] + t[cc] * normals[rr, 0]
        ys = pts[rr, 1] + t[cc] * normals[rr, 1]
        members_prof[rr, cc] = _spline_at(prep, xs, ys)
        if grouped:
            prof = np.einsum("gkt,gkt->gt", w, members_prof[members]) / np.maximum(cnt, 1.0)
    inner = _interp_rows(t_edge - ext, t, prof)
    outer = _interp_rows(t_edge + ext, t, prof)
    step_ok = (inner - outer) >= 0.5 * y1 * np.sqrt(2 * np.pi) * edge_sigma
    if sharp is not None:
        step_ok &= ~sharp[idx] | ((inner - outer) <= NIGHT_STEP_MAX * y1 * np.sqrt(2 * np.pi) * edge_sigma)
    return idx, t_edge, y1, noise_factor, clean & interior & step_ok, in_view


def _spline_at(prep: _Prepared, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The pre-smoothed image's cubic spline at (sample, line) positions (any shape): compiled
    (:func:`ioscan.geometry.limb_kernels.spline_at`; scipy's ``map_coordinates`` at NaN positions), the
    same numbers as scipy's."""
    if not LIMB_KERNELS:
        return _spline_at_scipy(prep.coef, xs.ravel(), ys.ravel()).reshape(xs.shape)
    from ioscan.geometry import limb_kernels

    ys_flat, xs_flat = (
        np.ascontiguousarray(ys, dtype=float).ravel(),
        np.ascontiguousarray(xs, dtype=float).ravel(),
    )
    out, done = limb_kernels.spline_at(*_readonly(prep.coef, ys_flat, xs_flat))
    if not done.all():
        rest = ~done
        out[rest] = _spline_at_scipy(prep.coef, xs_flat[rest], ys_flat[rest])
    return out.reshape(xs.shape)


def _ray_samples(prep: _Prepared, pts, normals, rows, t, core: slice, prof, badpix) -> None:
    """The rays ``rows``' profiles at the samples ``core`` and every sample's bad flag (nearest pixel bad or
    outside the frame's interior), into ``prof`` and ``badpix`` in place: compiled
    (:func:`ioscan.geometry.limb_kernels.ray_samples`; scipy's spline at NaN positions), the same numbers
    as the numpy steps of :func:`_measure_edges`."""
    from ioscan.geometry import limb_kernels

    coef, bad, pts, normals, t = _readonly(prep.coef_box, prep.bad, pts, normals, t)
    done = np.ones(prof.shape, dtype=bool)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    left = limb_kernels.ray_samples(
        coef, bad, pts, normals, rows, t, core.start, core.stop, prof, badpix, done, *prep.origin
    )
    if left:
        rr, jj = np.nonzero(~done)
        xs = pts[rr, 0] + t[jj] * normals[rr, 0]
        ys = pts[rr, 1] + t[jj] * normals[rr, 1]
        prof[rr, jj] = _spline_at_scipy(prep.coef, xs, ys)


def _shared_ray_samples(prep: _Prepared, pts, normals, rows, t, core: slice, prof, badpix, samples: dict):
    """:func:`_ray_samples` of the rays ``rows`` that no earlier call of the pass sampled (``samples``, see
    :func:`_measure_edges`: each call's profile and bad-flag arrays, kept by reference — their core samples
    and flags are not written after — with the rays it sampled); the others' copied from those calls."""
    key = (len(t), core.start, core.stop)
    if samples.get("key") != key:
        samples.clear()
        samples.update(key=key, calls=[])
    todo = np.ones(len(rows), dtype=bool)
    for old_prof, old_badpix, held in samples["calls"]:
        take = todo & held[rows]
        if take.any():
            old = rows[take]
            prof[old, core] = old_prof[old, core]
            badpix[old] = old_badpix[old]
            todo &= ~take
    new = rows[todo] if not todo.all() else rows
    if len(new):
        _ray_samples(prep, pts, normals, new, t, core, prof, badpix)
        held = np.zeros(len(prof), dtype=bool)
        held[new] = True
        samples["calls"].append((prof, badpix, held))


def _edge_search(prep: _Prepared, profiles, search: tuple[int, int], core: slice, radii, sharp, rays):
    """(t_edge, strength, usable) of ungrouped rays by :func:`ioscan.geometry.limb_kernels.edge_search`
    (the numbers of :func:`_measure_edges`' numpy steps), or None when a profile sample it needs is at a NaN
    position (the numpy steps then). ``profiles``: (prof, badpix, sample, t); ``radii``: (clean radius,
    step-test offset, edge σ, sample step); ``rays``: (points, normals)."""
    from ioscan.geometry import limb_kernels

    prof, badpix, sample, t = profiles
    clean_radius, ext, edge_sigma, step = radii
    n = len(prof)
    t_edge, strength, usable = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    sharp = np.zeros(n, dtype=bool) if sharp is None else sharp
    coef, pts, normals, t_ro, sharp_ro, sample_ro = _readonly(prep.coef_box, *rays, t, sharp, sample)
    left = limb_kernels.edge_search(
        prof, badpix, sample_ro, t_ro, search[0], search[1], core.start, core.stop, float(step),
        float(clean_radius), float(ext), float(np.sqrt(2 * np.pi)), float(edge_sigma), NIGHT_STEP_MAX,
        sharp_ro, coef, pts, normals, t_edge, strength, usable, *prep.origin,
    )  # fmt: skip
    return None if left else (t_edge, strength, usable)


def _group_edge_search(prep: _Prepared, profiles, groups, search, core: slice, radii, sharp, rays):
    """(t_edge, strength, usable, fewest good members) of ray groups by
    :func:`ioscan.geometry.limb_kernels.group_edge_search` (the numbers of :func:`_measure_edges`' grouped
    numpy steps), or None when a member's sample it needs is at a NaN position (the numpy steps then).
    ``groups``: (members, contiguous); the other arguments as :func:`_edge_search`'s."""
    from ioscan.geometry import limb_kernels

    prof, badpix, sample, t = profiles
    members, contiguous = groups
    clean_radius, ext, edge_sigma, step = radii
    n_g, group = members.shape
    t_edge, strength = np.empty(n_g), np.empty(n_g)
    usable, fewest = np.empty(n_g, dtype=bool), np.empty(n_g)
    sharp_g = np.zeros(n_g, dtype=bool) if sharp is None else sharp[members[:, group // 2]]
    members_ro = np.ascontiguousarray(members, dtype=np.int64).view()
    members_ro.flags.writeable = False
    coef, pts, normals, t_ro, sharp_ro, sample_ro, contiguous_ro = _readonly(
        prep.coef_box, *rays, t, sharp_g, sample, contiguous
    )
    left = limb_kernels.group_edge_search(
        prof, badpix, sample_ro, members_ro, contiguous_ro, max(2.0, group / 2.0), t_ro, search[0], search[1],
        core.start, core.stop, float(step), float(clean_radius), float(ext), float(np.sqrt(2 * np.pi)),
        float(edge_sigma), NIGHT_STEP_MAX, sharp_ro, coef, pts, normals, t_edge, strength, usable, fewest,
        *prep.origin,
    )  # fmt: skip
    return None if left else (t_edge, strength, usable, fewest)


def _spline_at_scipy(coef: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The cubic spline of coefficients ``coef`` at 1-D (sample, line) positions, by scipy."""
    return ndimage.map_coordinates(coef, [ys, xs], order=3, prefilter=False, mode="nearest")


def _interp_col(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index j of the samples t[j], t[j + 1] that :func:`_interp_rows` interpolates ``x`` between."""
    dt = float(t[1] - t[0])
    return np.clip(np.floor((x - t[0]) / dt).astype(int), 0, len(t) - 2)


def _interp_rows(x: np.ndarray, t: np.ndarray, prof: np.ndarray) -> np.ndarray:
    """``np.interp(x[r], t, prof[r])`` for every row r at once (t evenly spaced, increasing)."""
    j = _interp_col(x, t)
    rows = np.arange(len(x))
    f0, f1 = prof[rows, j], prof[rows, j + 1]
    val = (f1 - f0) / (t[j + 1] - t[j]) * (x - t[j]) + f0
    return np.where(x <= t[0], prof[:, 0], np.where(x >= t[-1], prof[:, -1], val))


def _arc_deg(angles: np.ndarray) -> float:
    """Angular extent of a set of angles (radians): 360° minus the largest gap."""
    if len(angles) < 2:
        return 0.0
    a = np.sort(np.mod(angles, 2 * np.pi))
    gaps = np.diff(np.append(a, a[0] + 2 * np.pi))
    return float(np.degrees(2 * np.pi - gaps.max()))


def _autocorr_factor(res: np.ndarray, max_lag: int = 30) -> float:
    """Integrated autocorrelation 1 + 2Σρ_k of residuals ordered along the limb (≥ 1)."""
    r = res - res.mean()
    var = float(r @ r)
    if var <= 0 or len(r) < 10:
        return 1.0
    tau = 1.0
    for k in range(1, min(max_lag, len(r) // 4)):
        rho = float(r[:-k] @ r[k:]) / var
        if rho < 0.05:
            break
        tau += 2.0 * rho
    return tau


def _percentile(x: np.ndarray, q: float) -> float:
    """``np.percentile(x, q)`` (method "linear") of a non-empty 1-D float array, the same number: the order
    statistics around the virtual index (n − 1)·q/100 by one partition and numpy's ``_lerp`` (from the upper
    one when the fraction is ≥ ½), NaN when x holds one; ~6× faster for a few hundred values."""
    n = len(x)
    v = (n - 1) * (q / 100)
    if v >= n - 1:  # numpy takes the last value (its lower index then −1: the fraction v + 1)
        lo = hi = n - 1
        gamma = v + 1.0
    else:
        prev = float(np.floor(v))
        lo, hi = int(prev), int(prev) + 1
        gamma = v - prev
    part = np.partition(x, sorted({lo, hi, n - 1}))
    if np.isnan(part[-1]):
        return float("nan")
    a, b = part[lo], part[hi]
    d = b - a
    return float(b - d * (1 - gamma)) if gamma >= 0.5 else float(a + d * gamma)


def _use_edges(measured, snr, lit, night, min_edge_snr: float, night_edge_snr: float) -> np.ndarray:
    """Indices of the measured edges a fit uses: usable, significant (sunlit / night-side thresholds) and not
    faint next to the limb's typical contrast (matters only for nearly noise-free frames)."""
    idx, _, strength, _, usable, _ = measured
    lit_i, night_i = lit[idx], night[idx]
    typical = _percentile(strength[usable & lit_i], 90) if np.any(usable & lit_i) else 0.0
    strong = strength >= 0.05 * typical
    use = usable & strong & ((lit_i & (snr >= min_edge_snr)) | (night_i & (snr >= night_edge_snr)))
    return np.nonzero(use)[0]


def _coverage(idx, sel, in_view, lit, night) -> tuple[float, float, int]:
    """(sunlit, night-side) coverage: of the limb rays (or ray groups) in view, the fraction with a kept
    edge (NaN where none is in view), and how many sunlit ones are in view. ``idx``: each measured edge's
    ray, ``sel``: the kept edges' indices."""
    kept = np.zeros(len(idx), dtype=bool)
    kept[sel] = True
    out = []
    for kind in (lit[idx], night[idx]):
        n_in = int((in_view & kind).sum())
        out.append(float((kept & kind).sum() / n_in) if n_in else float("nan"))
    return out[0], out[1], int((in_view & lit[idx]).sum())


def _solve(
    model: _LimbModel,
    edges: np.ndarray,
    weights: np.ndarray,
    p: np.ndarray,
    f_scale: float | None,
    shift_only: bool,
    prior_sigma_px: tuple[float | None, float | None],
    s_eff: float,
) -> np.ndarray | None:
    """The offsets (px) minimising the weighted edge distances to the shifted limb and the prior rows, by the
    compiled solver (:func:`ioscan.geometry.limb_kernels.solve_shift`: :func:`limbsolve.solve`'s steps) when
    only a translation of a backplane model is fitted; None when the Python solver must do it."""
    if not (LIMB_KERNELS and shift_only):
        return None
    from ioscan.geometry import limb_kernels

    prior_w = np.array([0.0 if sig is None else s_eff / sig for sig in prior_sigma_px])
    args = _readonly(model.conic, edges[:, 0], edges[:, 1], weights, prior_w, p)
    tol = (LSQ_STEP_TOL_PX, limbsolve.FLAT_TOL, limbsolve.FD_STEP, limbsolve.MAX_ITER)
    x, ok = limb_kernels.solve_shift(*args, f_scale or 0.0, *tol)
    return x if ok else None


def _refine(
    prep: _Prepared,
    model: _LimbModel,
    p0: np.ndarray,
    *,
    fit_scale: bool,
    fit_rotation: bool,
    psf_sigma_px: float,
    first_window: float,
    min_edge_snr: float,
    night_edge_snr: float,
    correct_bias: bool,
    max_shift: tuple[float, float],
    prior_sigma_px: tuple[float | None, float | None] = (None, None),
    auto_group: bool = True,
) -> LimbFit:
    mode = "rotation" if model.k_matrix is not None else "translation"
    sigma_tot = float(np.sqrt(psf_sigma_px**2 + prep.smooth_sigma**2 + 1.0 / 12.0))
    # sunlit: incidence < 90° at the limb and predicted (Lambert) brightness a little inside the limb clear
    # of the terminator; this keeps low-phase limbs (sqrt-shaped profiles) and drops thin crescent horns
    depth = max(2.0 * sigma_tot, 2.0) / model.radius
    inner = model.cos_limb * (1 - depth) + model.cos_phase * np.sqrt(2 * depth - depth * depth)
    lit = inner >= LIT_MIN_BRIGHTNESS
    night = (model.cos_limb < 0.0) & (inner <= 0.0)  # no sunlight near the limb: only a thermal edge
    bias = None  # made when a pass first has the edges a fit needs (a refinement failing before never does)
    p = np.array(p0, dtype=float)
    window = first_window
    clean_radius = 2.0 * sigma_tot + 1.0
    sel = np.zeros(0, dtype=int)
    group = 1
    s_eff = 0.5  # effective 1σ of one weighted residual (noise × autocorrelation), px; updated below

    def prior_row(q, s_eff):
        return np.array([s_eff * q[k] / sig for k, sig in enumerate(prior_sigma_px) if sig is not None])

    wanted = lit | night
    # wide search passes (the window still holds the coarse step's error) need only the limb's rough
    # position: they read every ``thin``-th wanted ray (≥ THIN_MIN_RAYS of them); the passes that give the
    # fit and its error read every ray
    thin_every = max(1, int(wanted.sum()) // THIN_MIN_RAYS)
    thin_mask = wanted & (np.arange(len(wanted)) % thin_every == 0)
    fine_window = 2.0 * sigma_tot + 2.0
    shift_only = model.k_matrix is None and not fit_scale and not fit_rotation
    for it in range(3 + MAX_THIN_PASSES):
        ds, dl, log_s, rot = _unpack(p, fit_scale, fit_rotation)
        h = _homography(model, ds, dl, log_s, rot)
        pts = _apply_h(h, model.points)
        _, normals = _conic_distance(_transform_conic(model.conic, h), pts)
        thin = thin_every > 1 and group == 1 and it < MAX_THIN_PASSES and window > fine_window + 1.0
        samples: dict = {}  # this pass's ray profiles, read once by its calls (thin, the rest, grouped)
        measured = _measure_edges(
            prep,
            pts,
            normals,
            window,
            clean_radius,
            group,
            sigma_tot,
            need=thin_mask if thin else wanted,
            sharp=night,
            samples=samples,
        )
        if thin:
            snr = measured[2] / prep.grad_noise
            cand = measured[4] & measured[5] & wanted
            sure = len(_use_edges(measured, snr, lit, night, min_edge_snr, night_edge_snr)) >= 12
            if it == 0 and auto_group:  # sure to need no grouping, with a margin for the thin sample
                sure &= bool(cand.sum() >= 12) and _median_of(snr[cand]) >= THIN_GROUP_MARGIN * (
                    1.5 * np.sqrt(2.0) * min_edge_snr
                )
            if not sure:  # read the other rays too: the same numbers as one pass over every ray
                rest = wanted & ~thin_mask
                more = _measure_edges(
                    prep,
                    pts,
                    normals,
                    window,
                    clean_radius,
                    group,
                    sigma_tot,
                    need=rest,
                    sharp=night,
                    samples=samples,
                )
                measured = tuple(np.where(rest, m, t) for m, t in zip(more, measured, strict=True))
                thin = False
        idx, t_edge, strength, nf, usable, in_view = measured
        snr = strength / (prep.grad_noise * nf)
        if it == 0 and group == 1 and auto_group and not thin:
            # faint limb: average neighbouring rays so that a typical edge reaches ~2× the SNR threshold
            cand = usable & in_view & (lit | night)
            if cand.sum() >= 12:
                med = _median_of(snr[cand])
                want = int(np.ceil(2.0 * (1.5 * min_edge_snr / max(med, 0.5)) ** 2))
                group = int(np.clip(want, 1, max(1, min(cand.sum() // 8, int(0.5 * model.radius), 40))))
                if group > 1:
                    idx, t_edge, strength, nf, usable, in_view = _measure_edges(
                        prep,
                        pts,
                        normals,
                        window,
                        clean_radius,
                        group,
                        sigma_tot,
                        need=lit | night,
                        sharp=night,
                        samples=samples,
                    )
                    snr = strength / (prep.grad_noise * nf)
        lit_i, night_i = lit[idx], night[idx]
        sel = _use_edges(
            (idx, t_edge, strength, nf, usable, in_view), snr, lit, night, min_edge_snr, night_edge_snr
        )
        if len(sel) < (12 if group == 1 else max(6, -(-12 // group))):
            n_view = int(in_view.sum()) * group
            if n_view < 12:
                why = "no limb in view"
            elif not np.any(in_view & (lit_i | night_i)):
                why = "only the terminator region of the limb is in view (no sharp limb)"
            else:
                why = (
                    f"no limb signal: {len(sel)} of {n_view} limb points in view have a significant edge "
                    f"(SNR ≥ {min_edge_snr:g} sunlit, ≥ {night_edge_snr:g} night side)"
                )
            return LimbFit(ok=False, reason=why, n_limb_points=len(sel), mode=mode)
        ray = idx[sel]
        if bias is None:
            bias = np.zeros(len(model.phi))  # night-side (thermal) limb: a plain step, no bias
            if correct_bias and lit.any():
                bias[lit] = _edge_bias_along(
                    model.cos_limb[lit], model.cos_phase[lit], model.radius, sigma_tot
                )
        edges = pts[ray] + (t_edge[sel] + bias[ray])[:, None] * normals[ray]
        # edge-location noise scales as 1/contrast: weight each point by its brightness drop
        # (capped: a hot spot or a streak next to the limb must not dominate the fit)
        weights = np.minimum(strength[sel] / _median_of(strength[sel]), 3.0)

        def res_fn(q, edges=edges, weights=weights):
            conic = _moved_conic(model, *_unpack(q, fit_scale, fit_rotation))
            return weights * _conic_signed_distance(conic, edges)

        def res_all(keep, s_eff, edges=edges, weights=weights):
            """The residuals of the kept edges and the prior rows, as a function of the parameters (the
            edges' homogeneous coordinates made once: the least squares evaluate it ~30 times)."""
            xk, wk = _homogeneous(edges[keep]), weights[keep]

            def fun(q):
                conic = _moved_conic(model, *_unpack(q, fit_scale, fit_rotation))
                return np.concatenate([wk * _conic_signed_distance(conic, xk), prior_row(q, s_eff)])

            return fun

        def solve(keep, s_eff, p, f_scale=None, edges=edges, weights=weights):
            x = _solve(model, edges[keep], weights[keep], p, f_scale, shift_only, prior_sigma_px, s_eff)
            if x is None:
                x = limbsolve.solve(res_all(keep, s_eff), p, f_scale=f_scale, step_tol=LSQ_STEP_TOL_PX)
            return x

        keep = np.ones(len(sel), dtype=bool)
        p_new = solve(keep, s_eff, p, f_scale=0.5)
        for _ in range(0 if thin and FAST_PASSES else 2):  # a thin pass only brings the limb closer
            r = res_fn(p_new)
            mad = _mad(r)
            new_keep = np.abs(r - _median_of(r)) <= max(3.0 * mad, 0.05)
            if new_keep.sum() < 12 or np.array_equal(new_keep, keep):
                break
            keep = new_keep
            p_new = solve(keep, s_eff, p_new)
        r = res_fn(p_new, edges[keep], weights[keep])
        order = np.argsort(model.phi[ray][keep])
        s_eff = float(np.sqrt(float(r @ r) / max(len(r) - len(p), 1) * _autocorr_factor(r[order])))
        # floor: the expected scatter of one edge (PSF width / edge SNR) and a model floor; a handful of
        # grouped points cannot estimate their own scatter
        s_exp = _median_of(weights[keep] * sigma_tot / snr[sel][keep])
        s_eff = max(s_eff, s_exp, EDGE_MODEL_FLOOR_PX)
        moved = float(np.hypot(p_new[0] - p[0], p_new[1] - p[1]))
        p = p_new
        if FAST_PASSES and it == 0:
            # the first pass's fit is within ~0.5 px of the final one (campaign: at most 0.53): the next
            # pass reads every ray in a window just wider than the fine one, not one as wide as it moved
            window = min(window, fine_window + min(2.0 * moved, FIRST_PASS_MARGIN_PX))
        else:
            window = min(window, fine_window + 2.0 * moved)
        stop = STOP_MOVED_PX if FAST_PASSES else 0.01
        if not thin and ((it >= 1 and moved < stop) or it >= 2):
            break
    # final statistics on the kept points (residual scale from the data, prior as an extra row)
    if any(sig is not None for sig in prior_sigma_px):
        p = solve(keep, s_eff, p)
    sel = sel[keep]
    coverage = _coverage(idx, sel, in_view, lit, night)
    edges = edges[keep]
    weights = weights[keep]
    bias_kept = bias[ray][keep]
    r = res_fn(p, edges, weights)

    def full(q):
        return np.concatenate([res_fn(q, edges, weights) / s_eff, prior_row(q, 1.0)])

    f0 = full(p)
    eps = 1e-4
    jac = np.column_stack([(full(p + eps * np.eye(len(p))[j]) - f0) / eps for j in range(len(p))])
    n = len(r)
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return LimbFit(
            ok=False,
            reason="fit singular: limb arc does not constrain the offset",
            n_limb_points=n,
            mode=mode,
        )
    # systematic: the PSF-bias correction rests on a photometric model (Lambert); take half of the offset it
    # induces as its 1σ uncertainty (the least-squares response to moving every edge by its bias)
    jd = jac[:n] * s_eff
    shift_bias = cov @ (jd.T @ (weights * bias_kept / s_eff**2)) if np.any(bias_kept) else np.zeros(len(p))
    cov[0, 0] += OFFSET_MODEL_FLOOR_PX**2
    cov[1, 1] += OFFSET_MODEL_FLOOR_PX**2
    err = np.sqrt(np.clip(np.diag(cov), 0, None) + (BIAS_MODEL_FRACTION * shift_bias) ** 2)
    ds, dl, log_s, rot = _unpack(p, fit_scale, fit_rotation)
    h = _homography(model, ds, dl, log_s, rot)
    center = model.body_center + (ds, dl)
    radius = model.radius * float(np.sqrt(abs(np.linalg.det(h[:2, :2] / h[2, 2]))))
    rel = edges - center
    fit = LimbFit(
        ok=True,
        offset_sample_px=ds,
        offset_line_px=dl,
        offset_err_px=(float(err[0]), float(err[1])),
        offset_corr=float(np.clip(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), -1.0, 1.0))
        if cov[0, 0] > 0 and cov[1, 1] > 0
        else 0.0,
        scale=float(np.exp(log_s)),
        scale_err=float(np.exp(log_s) * err[2]) if fit_scale else float("nan"),
        rotation_deg=float(np.degrees(rot)),
        rotation_err_deg=float(np.degrees(err[-1])) if fit_rotation else float("nan"),
        center_sample_px=float(center[0]),
        center_line_px=float(center[1]),
        radius_px=radius,
        n_limb_points=n,
        rms_px=float(np.sqrt(np.mean((r / weights) ** 2))),
        arc_deg=_arc_deg(np.arctan2(rel[:, 1], rel[:, 0])),
        mode=mode,
        lit_coverage=coverage[0],
        night_coverage=coverage[1],
        n_night=int(night[idx][sel].sum()),
    )
    extent = float(np.ptp(edges[:, 0]) ** 2 + np.ptp(edges[:, 1]) ** 2) ** 0.5
    min_extent = min(MIN_LIMB_EXTENT_PX, 0.5 * np.pi * model.radius)
    # the edges' scatter about the fitted limb (weighted residuals, as the fit's) against what a limb allows
    scatter = float(np.sqrt(float(r @ r) / max(n - len(p), 1)))
    max_scatter = max(MAX_EDGE_SCATTER * sigma_tot, 3.0 * s_exp)
    if not np.all(np.isfinite(p)) or abs(ds) > max_shift[0] + 5 or abs(dl) > max_shift[1] + 5:
        fit.ok, fit.reason = False, "fit diverged (offset outside the search window)"
    elif scatter > max_scatter:
        fit.ok, fit.reason = (
            False,
            f"limb points scatter {scatter:.1f} px about the fitted limb (> {max_scatter:.1f} px): they "
            "trace another curve (a terminator?), not the limb",
        )
    elif extent < min_extent:
        fit.ok, fit.reason = (
            False,
            f"limb points span only {extent:.0f} px (< {min_extent:.0f} px): not a limb (a bright source?)",
        )
    elif any(sig is None and e > MAX_OFFSET_ERR_PX for sig, e in zip(prior_sigma_px, err[:2], strict=True)):
        fit.ok, fit.reason = (
            False,
            (
                f"limb arc too short to constrain the offset (arc {fit.arc_deg:.0f}°, "
                f"1σ {max(err[0], err[1]):.2g} px)"
            ),
        )
    return fit


# ------------------------------------------------------------------------------------------- public API
def _check_image(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 2 or min(img.shape) < 8:
        raise NavigationError(f"limb fit needs a 2-D image of at least 8×8 pixels, got shape {img.shape}")
    return img.astype(float, copy=False)


def register_frame(
    image: np.ndarray,
    predicted: Backplanes | tuple[FrameCamera, CameraPose],
    *,
    max_shift_px: tuple[float, float] = (50.0, 50.0),
    fit_scale: bool = False,
    fit_rotation: bool = False,
    psf_sigma_px: float = 1.0,
    min_edge_snr: float = 5.0,
    night_edge_snr: float = 8.0,
    mask_hot_spots: bool = True,
    correct_bias: bool = True,
    min_coarse_snr: float = 6.0,
    prior_sigma_px: tuple[float | None, float | None] = (None, None),
    body: iobody.Ellipsoid = iobody.IO,
) -> LimbFit:
    """Offset of Io's disk in ``image`` relative to the predicted geometry (see module docstring).

    Args:
        image: one band, (n_lines, n_samples), any linear brightness unit; NaN = missing.
        predicted: backplanes of this band (must hold ``limb_distance_px``; ``incidence_deg`` tells which
            limb is sunlit) or the ``(camera, pose)`` they came from (exact limb, shift as camera rotation).
        max_shift_px: half-widths of the search window (sample, line), pixels.
        fit_scale, fit_rotation: also fit the disk size and the image-plane rotation.
        psf_sigma_px: Gaussian PSF sigma, pixels (sets the edge-bias correction and the hot-spot mask size).
        min_edge_snr: minimum brightness-drop significance of a sunlit limb point.
        night_edge_snr: the same for night-side limb points (only used when the image shows them).
        mask_hot_spots: drop rays crossing compact bright sources.
        correct_bias: remove the PSF-induced inward bias of a Lambert limb (needs ``psf_sigma_px``).
        min_coarse_snr: minimum significance of the coarse correlation peak.
        prior_sigma_px: 1σ of Gaussian priors (mean 0) on the (sample, line) offsets, None where there is
            none. With a prior across track (JIRAM: the samples), a limb arc that constrains only the
            along-track offset still gives the cross-track one with an honest error (≤ the prior). ``ok``
            needs the errors of the axes without a prior ≤ 2 px.

    Returns:
        :class:`LimbFit`; ``ok=False`` with a ``reason`` when the frame cannot be registered.

    Raises:
        NavigationError: for unusable inputs (see module docstring).
    """
    return start_limb_fit(
        image,
        predicted,
        max_shift_px=max_shift_px,
        fit_scale=fit_scale,
        fit_rotation=fit_rotation,
        psf_sigma_px=psf_sigma_px,
        min_edge_snr=min_edge_snr,
        night_edge_snr=night_edge_snr,
        mask_hot_spots=mask_hot_spots,
        correct_bias=correct_bias,
        min_coarse_snr=min_coarse_snr,
        prior_sigma_px=prior_sigma_px,
        body=body,
    ).refine()


@dataclass
class CoarseLimb:
    """A limb fit stopped after its coarse step (:func:`start_limb_fit`).

    Attributes:
        snr: significance of the coarse correlation peak (NaN when it was not reached): how strongly the
            limb shows in this image, what a navigation ranks bands by before it refines one.
        failed: the failed :class:`LimbFit` when the coarse step already decided (no limb in view, no limb
            signal...), else None.
    """

    snr: float
    failed: LimbFit | None = None
    _refine: Callable[[], LimbFit] | None = field(default=None, repr=False)

    def refine(self) -> LimbFit:
        """The finished fit: the same :class:`LimbFit` as :func:`register_frame` (the failed one as is)."""
        if self.failed is not None or self._refine is None:
            return self.failed if self.failed is not None else LimbFit(ok=False, reason="no fit")
        return self._refine()

    @classmethod
    def done(cls, fit: LimbFit) -> CoarseLimb:
        """A finished fit as a coarse one (``snr``: its ``coarse_snr``; a failed fit as ``failed``)."""
        return cls(snr=float(fit.coarse_snr), failed=None if fit.ok else fit, _refine=lambda: fit)


def start_limb_fit(
    image: np.ndarray,
    predicted: Backplanes | tuple[FrameCamera, CameraPose],
    *,
    max_shift_px: tuple[float, float] = (50.0, 50.0),
    fit_scale: bool = False,
    fit_rotation: bool = False,
    psf_sigma_px: float = 1.0,
    min_edge_snr: float = 5.0,
    night_edge_snr: float = 8.0,
    mask_hot_spots: bool = True,
    correct_bias: bool = True,
    min_coarse_snr: float = 6.0,
    prior_sigma_px: tuple[float | None, float | None] = (None, None),
    body: iobody.Ellipsoid = iobody.IO,
) -> CoarseLimb:
    """:func:`register_frame` up to its coarse step (image prepared, the whole search window correlated);
    :meth:`CoarseLimb.refine` finishes it (the edge search and least squares, most of a fit's time) with
    the same result. Arguments and exceptions as :func:`register_frame`."""
    img = _check_image(image)
    max_shift = (float(max_shift_px[0]), float(max_shift_px[1]))
    if isinstance(predicted, Backplanes):
        if tuple(predicted.shape) != img.shape:
            raise NavigationError(f"image shape {img.shape} differs from the backplanes' {predicted.shape}")
        model = _model_from_backplanes(predicted, crop=(img.shape, max_shift))
    else:
        try:
            camera, pose = predicted
        except (TypeError, ValueError) as exc:
            raise NavigationError("predicted must be Backplanes or a (FrameCamera, CameraPose) pair") from exc
        if (camera.n_lines, camera.n_samples) != img.shape:
            raise NavigationError(
                f"image shape {img.shape} differs from the camera's {(camera.n_lines, camera.n_samples)}"
            )
        model = _model_from_pose(camera, pose, body)
        _crop_model(model, img.shape, max_shift)
    mode = "rotation" if model.k_matrix is not None else "translation"
    nan = float("nan")
    if len(model.points) < 12:  # fewer limb samples than a fit needs can ever come into view
        return CoarseLimb(
            nan, LimbFit(ok=False, reason="no limb in view anywhere in the search window", mode=mode)
        )
    # only the part of the frame the fit can read is prepared: the search window around the predicted disk,
    # with the coarse template's margin (7 binned pixels and the binning) and the edge rays' reach
    f = _bin_factor(model, img.shape)
    crop = _limb_box(model, img.shape, max_shift, 8.0 * f + PREP_MARGIN_PX, f) if PREP_LIMB_BOX else None
    try:
        prep = _prepare(img, psf_sigma_px, mask_hot_spots, crop)
    except ValueError as exc:
        return CoarseLimb(nan, LimbFit(ok=False, reason=str(exc), mode=mode))
    if prep.grad_noise <= 1e-29 and np.ptp(prep.box) == 0:
        return CoarseLimb(nan, LimbFit(ok=False, reason="image is constant: no limb signal", mode=mode))
    if prep.crop is not None and COARSE_ON_BOX:
        # the coarse step on the prepared box alone (beyond it every pixel is bad: no correlation term and
        # no noise sample comes from there), the predicted disk in the box's coordinates
        at = np.array([prep.crop[1].start, prep.crop[0].start], dtype=float)
        box = _Prepared(prep.box, prep.bad[prep.crop], prep.grad_noise, prep.valid, 1.0)
        coarse = _coarse_shift(box, replace(model, center=model.center - at), max_shift, f)
    else:
        coarse = _coarse_shift(prep, model, max_shift, f)
    if coarse is None:
        return CoarseLimb(
            nan, LimbFit(ok=False, reason="no limb in view anywhere in the search window", mode=mode)
        )
    ds0, dl0, snr, factor = coarse
    if snr < min_coarse_snr:
        failed = LimbFit(
            ok=False,
            reason=f"no limb signal found (correlation peak SNR {snr:.1f})",
            coarse_snr=snr,
            mode=mode,
        )
        return CoarseLimb(snr, failed)

    def finish() -> LimbFit:
        p0 = [ds0, dl0] + ([0.0] if fit_scale else []) + ([0.0] if fit_rotation else [])
        sigma_tot = np.sqrt(psf_sigma_px**2 + prep.smooth_sigma**2)
        window = 2.0 * factor + 3.0 * sigma_tot + 3.0
        fit = _refine(
            prep,
            model,
            np.array(p0),
            fit_scale=fit_scale,
            fit_rotation=fit_rotation,
            psf_sigma_px=psf_sigma_px,
            first_window=window,
            min_edge_snr=min_edge_snr,
            night_edge_snr=night_edge_snr,
            correct_bias=correct_bias,
            max_shift=max_shift,
            prior_sigma_px=prior_sigma_px,
        )
        fit.coarse_snr = snr
        return fit

    return CoarseLimb(snr, None, finish)


def fit_disk_center(
    image: np.ndarray,
    radius_px_guess: float,
    *,
    radius_tolerance: float = 0.25,
    psf_sigma_px: float = 1.0,
    reference_center: tuple[float, float] | None = None,
    min_edge_snr: float = 5.0,
    mask_hot_spots: bool = True,
    correct_bias: bool = True,
) -> LimbFit:
    """Model-free centre and radius of a disk of roughly known radius (ground-based frames).

    Gradient-directed Hough vote for the centre over radii ``radius_px_guess·(1 ± radius_tolerance)``, then a
    robust least-squares circle fit to sub-pixel edge points (centre + radius). With ``correct_bias`` a second
    pass fits a Lambert Sun direction to the disk's own shading and removes the PSF-induced inward bias of
    each limb point (uncorrected, it shifts the centre toward the bright limb by a fraction of the PSF
    sigma). Measured: ~0.4 px error for a 120-px disk with a 3.4 px PSF sigma at 8° phase.
    Albedo patterns and non-Lambert photometry limit that correction (bias not in ``offset_err_px``).

    Offsets are the fitted centre minus ``reference_center`` (default: the frame centre); ``scale`` is the
    fitted radius over ``radius_px_guess``.
    """
    img = _check_image(image)
    nl, ns = img.shape
    ref = np.array(reference_center if reference_center is not None else ((ns - 1) / 2, (nl - 1) / 2), float)
    try:
        prep = _prepare(img, psf_sigma_px, mask_hot_spots)
    except ValueError as exc:
        return LimbFit(ok=False, reason=str(exc), mode="model-free")
    sig = max(1.0, psf_sigma_px)
    sm = ndimage.gaussian_filter(prep.smooth, sig, mode="nearest")
    gl, gs = np.gradient(sm)
    mag = np.hypot(gs, gl)
    noise_mag = prep.grad_noise * (prep.smooth_sigma / np.hypot(prep.smooth_sigma, sig)) ** 2
    strong = (mag > 6.0 * noise_mag) & ~ndimage.binary_dilation(prep.bad, iterations=2)
    strong[:2, :] = strong[-2:, :] = False
    strong[:, :2] = strong[:, -2:] = False
    ll, ss = np.nonzero(strong)
    if len(ll) < 12:
        return LimbFit(ok=False, reason="no limb in view (no significant edges)", mode="model-free")
    if len(ll) > 20000:
        top = np.argsort(mag[ll, ss])[-20000:]
        ll, ss = ll[top], ss[top]
    w = mag[ll, ss]
    us, ul = gs[ll, ss] / w, gl[ll, ss] / w  # toward brighter = inward
    radii = np.arange(
        radius_px_guess * (1 - radius_tolerance), radius_px_guess * (1 + radius_tolerance) + 1, 1.0
    )
    cs = (ss[:, None] + radii * us[:, None]).ravel()
    cl = (ll[:, None] + radii * ul[:, None]).ravel()
    inb = (cs >= 0) & (cs < ns) & (cl >= 0) & (cl < nl)
    acc = np.zeros(nl * ns)
    np.add.at(
        acc, (np.rint(cl[inb]).astype(int) * ns + np.rint(cs[inb]).astype(int)), np.repeat(w, len(radii))[inb]
    )
    acc = ndimage.gaussian_filter(acc.reshape(nl, ns), 1.5)
    il, is_ = np.unravel_index(int(np.argmax(acc)), acc.shape)
    center0 = np.array([float(is_), float(il)])
    dist = np.hypot(ss - center0[0], ll - center0[1])
    toward = ((center0[0] - ss) * us + (center0[1] - ll) * ul) > 0.9 * dist
    near = toward & (np.abs(dist - radius_px_guess) <= radius_tolerance * radius_px_guess)
    if near.sum() < 12:
        return LimbFit(ok=False, reason="no disk of the expected radius found", mode="model-free")
    r0 = float(np.average(dist[near], weights=w[near]))
    window = 3.0 * np.hypot(psf_sigma_px, prep.smooth_sigma) + 4.0
    kw = dict(
        fit_scale=True,
        fit_rotation=False,
        psf_sigma_px=psf_sigma_px,
        min_edge_snr=min_edge_snr,
        night_edge_snr=np.inf,
        max_shift=(radius_px_guess, radius_px_guess),
    )
    fit = _refine(
        prep, _circle_model(center0, r0), np.zeros(3), first_window=window, correct_bias=False, **kw
    )
    if fit.ok and correct_bias:
        # second pass: Sun direction fitted to the disk's own shading, PSF bias of the limb removed
        center1 = np.array([fit.center_sample_px, fit.center_line_px])
        sun = _sun_from_shading(prep.smooth, center1, fit.radius_px)
        if sun is not None:
            model = _circle_model(center1, fit.radius_px)
            model.sun_disk = sun
            model.cos_limb = sun[0] * np.cos(model.phi) + sun[1] * np.sin(model.phi)
            model.cos_phase = np.full_like(model.phi, sun[2])
            second = _refine(prep, model, np.zeros(3), first_window=window, correct_bias=True, **kw)
            if second.ok:
                fit = second
    fit.mode = "model-free"
    if not np.isnan(fit.center_sample_px):
        fit.offset_sample_px = fit.center_sample_px - ref[0]
        fit.offset_line_px = fit.center_line_px - ref[1]
        fit.scale = fit.radius_px / radius_px_guess
        fit.scale_err = fit.scale_err * r0 / radius_px_guess
    return fit


def _sun_from_shading(img: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray | None:
    """Unit Sun vector (x=+sample, y=+line, z=toward observer): Lambert fit I = n·b to the inner disk."""
    nl, ns = img.shape
    ll, ss = np.mgrid[0:nl, 0:ns]
    u, v = (ss - center[0]) / radius, (ll - center[1]) / radius
    inner = (u * u + v * v) < 0.8**2
    if inner.sum() < 50:
        return None
    u, v, y = u[inner], v[inner], img[inner]
    n = np.column_stack([u, v, np.sqrt(1 - u * u - v * v)])
    b = np.linalg.lstsq(n, y, rcond=None)[0]
    for _ in range(3):  # refit on the pixels the fit says are sunlit
        lit = n @ b > 0.05 * np.abs(b).max()
        if lit.sum() < 50:
            return None
        b = np.linalg.lstsq(n[lit], y[lit], rcond=None)[0]
    norm = float(np.linalg.norm(b))
    return b / norm if norm > 0 else None


def corrected_pose(
    camera: FrameCamera, pose: CameraPose, fit: LimbFit, body: iobody.Ellipsoid = iobody.IO
) -> CameraPose:
    """The pose re-pointed so that Io's centre lands where the fit found it (and turned by the fitted
    rotation); the fitted scale, a range error, is not applied. ``fit`` must come from the same
    ``(camera, pose)`` in rotation mode."""
    if not fit.ok:
        raise NavigationError(f"cannot correct the pose with a failed limb fit ({fit.reason})")
    model = _model_from_pose(camera, pose, body)
    r = _camera_rotation(model, fit.offset_sample_px, fit.offset_line_px, np.radians(fit.rotation_deg))
    basis = np.column_stack(camera.axes())
    new = pose.inst_to_body @ basis @ r.T @ basis.T
    return CameraPose(
        observer_km=pose.observer_km,
        inst_to_body=new,
        sun_km=pose.sun_km,
        time_utc=pose.time_utc,
        abcorr=pose.abcorr,
    )
