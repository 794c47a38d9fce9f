"""Limb-fit navigation: measure where Io's disk really is in a frame.

Two entry points:

* :func:`register_frame` — model-based. Given the predicted geometry (:class:`Backplanes`, or a
  ``(FrameCamera, CameraPose)`` pair) it finds the pixel offset (and optionally scale and rotation) that
  moves the predicted limb onto the image's limb. Coarse step: FFT cross-correlation of the image's
  gradient field with that of a rendered (Lambert, orthographic) disk template over the whole search
  window (±200 × ±20 px by default: JIRAM's despinning-mirror pointing error). Fine step: edge points are
  the sub-pixel maximum of the brightness drop along rays normal to the shifted predicted limb, corrected
  for the PSF-induced inward bias of a Lambert limb profile (1-D model per ray from the predicted
  incidence geometry), weighted by their contrast and fitted by robust least squares
  (:func:`scipy.optimize.least_squares`: soft-L1 loss, then 3σ clipping and plain least squares).
* :func:`fit_disk_center` — model-free, for ground-based frames with no prediction: gradient-directed
  Hough vote for the centre of a disk of roughly known radius, then the same robust edge fit of a circle
  (centre + radius), with a second pass whose bias correction uses a Sun direction fitted to the disk's
  own shading.

Limb points used: "sunlit" where the predicted Lambert brightness 2σ inside the limb is ≥ 0.15 (this keeps
the sqrt-shaped limbs of low-phase frames and drops thin crescent horns), with edges ≥ ``min_edge_snr``
times the gradient noise; on the night side (no sunlight near the limb) only edges ≥ ``night_edge_snr``
(the M-band thermal limb); never the terminator region in between. Rays crossing compact bright sources
(hot spots: a top-hat against line openings, which keeps a limb-brightened crescent) or missing pixels
are dropped.

Offsets: ``offset_sample_px, offset_line_px`` = observed − predicted position of Io's centre, pixels.
With a camera and pose the shift is modelled as a rotation of the camera (the exact pinhole homography
K·R·K⁻¹) and :func:`corrected_pose` returns the re-pointed pose; with backplanes only it is a translation
of the limb ellipse fitted to the ``limb_distance_px`` backplane (≈0.1 px model error for a 120 px shift
near the frame edge, the gnomonic distortion).

Failure policy: data that cannot be registered (no limb in view, no limb signal, too few limb points, arc
too short: 1σ > 2 px, fit diverged) give ``LimbFit(ok=False, reason=...)``;
:class:`~ioscan.errors.NavigationError` is raised only for unusable inputs (image not 2-D or of the wrong
shape, predicted limb not an ellipse, Io behind the camera, no ``limb_distance_px`` backplane).

Uncertainties: 1σ from the least-squares covariance scaled by the residual variance and by the
integrated autocorrelation of the residuals along the limb (neighbouring rays share pixels); the tests
check the pull distribution by Monte Carlo. Systematic errors (photometric law, wrong ``psf_sigma_px``,
albedo patterns; ~0.03 px on the synthetic frames) are not included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.optimize import least_squares

from ioscan import body as iobody
from ioscan.errors import NavigationError
from ioscan.geometry.backplanes import Backplanes
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import limb_quadric
from ioscan.geometry.pose import CameraPose

SMOOTH_SIGMA_PX = 0.75  # pre-smoothing of the image before the edge search
LIT_MIN_BRIGHTNESS = 0.15  # Lambert brightness (cos incidence) 2σ inside a "sunlit" limb point
MAX_OFFSET_ERR_PX = 2.0  # a fit whose 1σ offset error exceeds this is reported not ok


@dataclass
class LimbFit:
    """Result of a limb fit (pixels are 0-based, centres at integers; offsets are observed − predicted).

    Attributes:
        ok: True when the frame was registered; otherwise ``reason`` says why not.
        reason: "" when ok, else a short explanation.
        offset_sample_px, offset_line_px: displacement of Io's centre, observed − predicted, pixels.
        offset_err_px: 1σ errors of (offset_sample_px, offset_line_px), pixels.
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
    """

    ok: bool
    reason: str = ""
    offset_sample_px: float = float("nan")
    offset_line_px: float = float("nan")
    offset_err_px: tuple[float, float] = (float("nan"), float("nan"))
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


def _sample_ellipse(model: _LimbModel, spacing_px: float = 1.0) -> None:
    a, b = model.semi_axes
    n = max(64, int(np.ceil(2 * np.pi * np.sqrt(0.5 * (a * a + b * b)) / spacing_px)))
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    model.phi = phi
    model.points = model.center + (model.axes_px @ np.vstack([a * np.cos(phi), b * np.sin(phi)])).T


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


def _model_from_backplanes(bp: Backplanes) -> _LimbModel:
    if "limb_distance_px" not in bp.arrays:
        raise NavigationError("backplanes have no limb_distance_px layer: cannot predict the limb")
    dist = np.asarray(bp["limb_distance_px"], dtype=float)
    finite = np.isfinite(dist)
    if finite.sum() < 20:
        raise NavigationError("limb_distance_px backplane is empty")
    gl, gs = np.gradient(np.where(finite, dist, 0.0))
    band = finite & (np.abs(dist) <= max(3.0, float(np.nanmin(np.abs(dist))) + 3.0))
    band[[0, -1], :] = False
    band[:, [0, -1]] = False
    ll, ss = np.nonzero(band)
    if len(ll) < 6:
        raise NavigationError("too few pixels near the predicted limb to define it")
    if len(ll) > 2000:
        pick = np.linspace(0, len(ll) - 1, 2000).astype(int)
        ll, ss = ll[pick], ss[pick]
    g = np.column_stack([gs[ll, ss], gl[ll, ss]])
    g2 = np.sum(g * g, axis=1)
    good = g2 > 0.25
    pts = np.column_stack([ss, ll])[good] - (dist[ll, ss][good] / g2[good])[:, None] * g[good]
    conic = _fit_conic(pts)
    # orient so that f > 0 inside: inside is where the limb distance increases
    inside_pt = pts.mean(axis=0) + 5.0 * np.mean(g[good] / np.sqrt(g2[good])[:, None], axis=0)
    if float(np.append(inside_pt, 1) @ conic @ np.append(inside_pt, 1)) < 0:
        conic = -conic
    center, axes, vecs = _conic_to_ellipse(conic)
    conic = conic / float(np.append(center, 1.0) @ conic @ np.append(center, 1.0))
    model = _LimbModel(conic, center, axes, vecs, center.copy(), np.array([0.0, 0.0, 1.0]), None)
    _sample_ellipse(model)
    sun = None
    if "incidence_deg" in bp.arrays:
        inc = np.asarray(bp["incidence_deg"], dtype=float)
        on = np.isfinite(inc) & (np.asarray(bp["on_disk"]) > 0)
        li, si = np.nonzero(on)
        if len(li) >= 20:
            if len(li) > 3000:
                pick = np.linspace(0, len(li) - 1, 3000).astype(int)
                li, si = li[pick], si[pick]
            uv = ((np.column_stack([si, li]) - center) @ vecs) / np.array(axes)
            w = np.sqrt(np.clip(1.0 - np.sum(uv * uv, axis=1), 0.0, None))
            sun = np.linalg.lstsq(np.column_stack([uv, w]), np.cos(np.radians(inc[li, si])), rcond=None)[0]
    if sun is None:  # no illumination known: treat the whole limb as a sharp lit edge
        model.sun_disk = np.array([0.0, 0.0, 1.0])
        model.cos_limb = np.ones_like(model.phi)
        model.cos_phase = np.zeros_like(model.phi)
    else:
        model.sun_disk = sun
        model.cos_limb = sun[0] * np.cos(model.phi) + sun[1] * np.sin(model.phi)
        model.cos_phase = np.full_like(model.phi, sun[2])
    return model


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


def _conic_distance(conic: np.ndarray, pts: np.ndarray):
    """Signed distance of points to the conic (positive inside), and the outward unit normal there."""
    x = np.column_stack([pts, np.ones(len(pts))])
    cx = x @ conic
    f = np.sum(cx * x, axis=1)
    g = 2.0 * cx[:, :2]
    g2 = np.sum(g * g, axis=1)
    gn = np.sqrt(g2)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = 2.0 * (
            conic[0, 0] * g[:, 0] ** 2 + 2 * conic[0, 1] * g[:, 0] * g[:, 1] + conic[1, 1] * g[:, 1] ** 2
        )
        h = h / g2
        disc = g2 - 2.0 * h * f
        step = np.where(disc >= 0, -2.0 * f / (gn + np.sqrt(np.maximum(disc, 0.0))), -f / gn)
        normal = -g / gn[:, None]
    return -step, normal


# ---------------------------------------------------------------------------------------------- the image
@dataclass
class _Prepared:
    smooth: np.ndarray  # pre-smoothed image, NaNs and hot spots filled
    coef: np.ndarray  # cubic-spline coefficients of ``smooth``
    bad: np.ndarray  # pixels not to be crossed by an edge ray (missing, compact sources)
    grad_noise: float  # 1σ noise of the brightness derivative, image units per pixel
    valid: np.ndarray
    smooth_sigma: float  # Gaussian pre-smoothing applied, pixels


def _line_opening(img: np.ndarray, length: int) -> np.ndarray:
    """Largest of the grey openings by straight lines of ``length`` px in 4 directions: keeps edges and
    thin ridges (a sunlit limb) but removes compact sources (hot spots)."""
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
    for step in ((0, 1), (1, 0), (1, 1), (1, -1)):
        opened = line_filter(line_filter(img, step, np.minimum), step, np.maximum)
        best = opened if best is None else np.maximum(best, opened, out=best)
    return best


def _prepare(image: np.ndarray, psf_sigma_px: float, mask_hot_spots: bool) -> _Prepared:
    img = np.asarray(image, dtype=float)
    valid = np.isfinite(img)
    if valid.sum() < 0.5 * img.size:
        raise ValueError("more than half of the pixels are missing")
    fill = float(np.median(img[valid]))
    filled = np.where(valid, img, fill)
    bad = ~valid
    if mask_hot_spots:
        size = 2 * int(np.ceil(2 * psf_sigma_px)) + 3
        opened = _line_opening(filled, size)
        diff = np.diff(filled, axis=1)[valid[:, 1:] & valid[:, :-1]]
        noise = 1.4826 * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2) if diff.size else 0.0
        tophat = filled - opened
        # compact sources: well above the noise (and above 1 % of the frame's range, for noise-free data)
        hot = tophat > max(5.0 * noise, 0.01 * float(np.ptp(filled)), 1e-300)
        grow = 2 * (int(np.ceil(2 * psf_sigma_px)) + 1) + 1
        hot = ndimage.maximum_filter(hot.astype(np.uint8), size=grow) > 0
        filled = np.where(hot, opened, filled)
        bad |= hot
    smooth_sigma = max(SMOOTH_SIGMA_PX, 0.7 * psf_sigma_px)  # ~matched to the edge width
    smooth = ndimage.gaussian_filter(filled, smooth_sigma, mode="nearest")
    gx = np.diff(smooth, axis=1)
    ok = ~(bad[:, 1:] | bad[:, :-1])
    vals = gx[ok] if ok.any() else gx.ravel()
    grad_noise = 1.4826 * float(np.median(np.abs(vals - np.median(vals))))
    coef = ndimage.spline_filter(smooth, order=3, mode="nearest")
    return _Prepared(smooth, coef, bad, max(grad_noise, 1e-30), valid, smooth_sigma)


def _render_template(
    model: _LimbModel, shape: tuple[int, int], origin: tuple[int, int], factor: int
) -> np.ndarray:
    """Approximate predicted disk brightness (Lambert, orthographic) on a canvas of ``shape`` binned pixels;
    canvas pixel (0, 0) is at predicted coordinates ``origin`` = (sample, line)."""
    ll, ss = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    s = origin[0] + (ss + 0.5) * factor - 0.5
    ln = origin[1] + (ll + 0.5) * factor - 0.5
    rel = np.stack([s - model.center[0], ln - model.center[1]], axis=-1) @ model.axes_px
    uv = rel / np.array(model.semi_axes)
    r2 = np.sum(uv * uv, axis=-1)
    w = np.sqrt(np.clip(1.0 - r2, 0.0, None))
    cos_i = uv[..., 0] * model.sun_disk[0] + uv[..., 1] * model.sun_disk[1] + w * model.sun_disk[2]
    return np.where(r2 < 1.0, np.clip(cos_i, 0.0, None) + 0.05, 0.0)


def _bin(a: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return a
    nl, ns = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:nl, :ns].reshape(nl // f, f, ns // f, f).mean(axis=(1, 3))


def _coarse_shift(prep: _Prepared, model: _LimbModel, max_shift: tuple[float, float]):
    """Integer-ish (ds, dl) maximising the normalised gradient cross-correlation, with its peak SNR."""
    f = max(1, int(model.radius // 20))
    img = _bin(prep.smooth, f)
    bad = _bin(prep.bad.astype(float), f) > 0
    nl, ns = img.shape
    ps = int(np.ceil(max_shift[0] / f)) + 2
    pl = int(np.ceil(max_shift[1] / f)) + 2
    shape = (nl + 2 * pl, ns + 2 * ps)
    tpl = _render_template(model, shape, (-ps * f, -pl * f), f)
    sig = 1.0
    tpl = ndimage.gaussian_filter(tpl, sig)
    im = ndimage.gaussian_filter(img, sig, mode="nearest")
    tgl, tgs = np.gradient(tpl)
    igl, igs = np.gradient(im)
    keep = ndimage.maximum_filter(bad.astype(np.uint8), size=5) == 0
    keep[:2, :] = keep[-2:, :] = False
    keep[:, :2] = keep[:, -2:] = False
    cs = np.zeros(shape)
    cl = np.zeros(shape)
    mask = np.zeros(shape)
    cs[pl : pl + nl, ps : ps + ns] = np.where(keep, igs, 0.0)
    cl[pl : pl + nl, ps : ps + ns] = np.where(keep, igl, 0.0)
    mask[pl : pl + nl, ps : ps + ns] = keep
    fft, ifft = np.fft.rfft2, np.fft.irfft2
    corr = ifft(fft(cs) * np.conj(fft(tgs)) + fft(cl) * np.conj(fft(tgl)), s=shape)
    energy = ifft(fft(mask) * np.conj(fft(tgs * tgs + tgl * tgl)), s=shape)
    dl_idx = np.arange(-pl + 2, pl - 1)
    ds_idx = np.arange(-ps + 2, ps - 1)
    sub_c = corr[np.ix_(dl_idx % shape[0], ds_idx % shape[1])]
    sub_e = energy[np.ix_(dl_idx % shape[0], ds_idx % shape[1])]
    emax = float(sub_e.max())
    if emax <= 0:
        return None
    score = np.where(sub_e > 0.15 * emax, sub_c / np.sqrt(np.maximum(sub_e, 1e-300)), -np.inf)
    il, is_ = np.unravel_index(int(np.argmax(score)), score.shape)
    # under pure noise the normalised score is Gaussian with the std of one image-gradient component
    vals = igs[keep]
    g_noise = 1.4826 * float(np.median(np.abs(vals - np.median(vals)))) if vals.size else 0.0
    snr = float(score[il, is_]) / max(g_noise, 1e-300)
    return float(ds_idx[is_] * f), float(dl_idx[il] * f), snr, f


# ------------------------------------------------------------------------------------------- edge search
def _edge_bias(cos_limb: np.ndarray, cos_phase: np.ndarray, radius: float, sigma: float) -> np.ndarray:
    """Inward offset (px) of the blurred-gradient maximum from the true limb for a Lambert sphere."""
    step = 0.1
    half = 4.0 * sigma + 2.0
    x = np.arange(-half, half + step / 2, step)
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


def _measure_edges(
    prep: _Prepared, pts: np.ndarray, normals: np.ndarray, half_width: float, step: float = 0.25
):
    """Sub-pixel position (along the outward normal) of the steepest brightness drop, strength, usable."""
    t = np.arange(-half_width, half_width + step / 2, step)
    xs = pts[:, 0, None] + t * normals[:, 0, None]
    ys = pts[:, 1, None] + t * normals[:, 1, None]
    nl, ns = prep.smooth.shape
    inside = (
        (xs.min(axis=1) >= 1)
        & (xs.max(axis=1) <= ns - 2)
        & (ys.min(axis=1) >= 1)
        & (ys.max(axis=1) <= nl - 2)
    )
    ri = np.clip(np.rint(ys).astype(int), 0, nl - 1)
    ci = np.clip(np.rint(xs).astype(int), 0, ns - 1)
    clean = ~prep.bad[ri, ci].any(axis=1)
    prof = ndimage.map_coordinates(
        prep.coef, [ys.ravel(), xs.ravel()], order=3, prefilter=False, mode="nearest"
    ).reshape(xs.shape)
    drop = -(prof[:, 2:] - prof[:, :-2]) / (2 * step)
    k = np.argmax(drop, axis=1)
    interior = (k >= 1) & (k <= drop.shape[1] - 2)
    k = np.clip(k, 1, drop.shape[1] - 2)
    rows = np.arange(len(k))
    y0, y1, y2 = drop[rows, k - 1], drop[rows, k], drop[rows, k + 1]
    den = y0 - 2 * y1 + y2
    off = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
    t_edge = t[1:-1][k] + np.clip(off, -1, 1) * step
    return t_edge, y1, inside & clean & interior


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
) -> LimbFit:
    mode = "rotation" if model.k_matrix is not None else "translation"
    sigma_tot = float(np.sqrt(psf_sigma_px**2 + prep.smooth_sigma**2 + 1.0 / 12.0))
    # sunlit: incidence < 90° at the limb and predicted (Lambert) brightness a little inside the limb clear
    # of the terminator; this keeps low-phase limbs (sqrt-shaped profiles) and drops thin crescent horns
    depth = max(2.0 * sigma_tot, 2.0) / model.radius
    inner = model.cos_limb * (1 - depth) + model.cos_phase * np.sqrt(2 * depth - depth * depth)
    lit = inner >= LIT_MIN_BRIGHTNESS
    night = (model.cos_limb < 0.0) & (inner <= 0.0)  # no sunlight near the limb: only a thermal edge
    bias = np.zeros(len(model.phi))  # night-side (thermal) limb: a plain step, no bias
    if correct_bias and lit.any():
        bias[lit] = _edge_bias(model.cos_limb[lit], model.cos_phase[lit], model.radius, sigma_tot)
    p = np.array(p0, dtype=float)
    window = first_window
    sel = np.zeros(0, dtype=int)
    for it in range(3):
        ds, dl, log_s, rot = _unpack(p, fit_scale, fit_rotation)
        h = _homography(model, ds, dl, log_s, rot)
        pts = _apply_h(h, model.points)
        _, normals = _conic_distance(_transform_conic(model.conic, h), pts)
        t_edge, strength, usable = _measure_edges(prep, pts, normals, window)
        snr = strength / prep.grad_noise
        # also relative to the limb's typical contrast (matters only for nearly noise-free frames)
        typical = float(np.percentile(strength[usable & lit], 90)) if np.any(usable & lit) else 0.0
        strong = strength >= 0.05 * typical
        use = usable & strong & ((lit & (snr >= min_edge_snr)) | (night & (snr >= night_edge_snr)))
        sel = np.nonzero(use)[0]
        if len(sel) < 12:
            inframe = int(usable.sum())
            why = (
                "no limb in view"
                if inframe < 12
                else f"too few limb points ({len(sel)} edges above SNR {min_edge_snr:g})"
            )
            return LimbFit(ok=False, reason=why, n_limb_points=len(sel), mode=mode)
        edges = pts[sel] + (t_edge[sel] + bias[sel])[:, None] * normals[sel]
        # edge-location noise scales as 1/contrast: weight each point by its brightness drop
        weights = strength[sel] / float(np.median(strength[sel]))

        def res_fn(q, edges=edges, weights=weights):
            d_s, d_l, l_s, r_ = _unpack(q, fit_scale, fit_rotation)
            conic = _transform_conic(model.conic, _homography(model, d_s, d_l, l_s, r_))
            return weights * _conic_distance(conic, edges)[0]

        keep = np.ones(len(sel), dtype=bool)
        sol = least_squares(
            res_fn, p, loss="soft_l1", f_scale=0.5, x_scale=np.full(len(p), 1.0), method="trf"
        )
        p_new = sol.x
        for _ in range(2):
            r = res_fn(p_new)
            mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
            new_keep = np.abs(r - np.median(r)) <= max(3.0 * mad, 0.05)
            if new_keep.sum() < 12 or np.array_equal(new_keep, keep):
                break
            keep = new_keep

            def res_fn_k(q, keep=keep, edges=edges, weights=weights):
                return res_fn(q, edges[keep], weights[keep])

            p_new = least_squares(res_fn_k, p_new, method="lm").x
        moved = float(np.hypot(p_new[0] - p[0], p_new[1] - p[1]))
        p = p_new
        window = min(window, 2.0 * sigma_tot + 2.0 + 2.0 * moved)
        if it >= 1 and moved < 0.01:
            break
    # final statistics on the kept points
    sel = sel[keep]
    edges = edges[keep]
    weights = weights[keep]
    r = res_fn(p, edges, weights)
    eps = 1e-4
    jac = np.column_stack(
        [(res_fn(p + eps * np.eye(len(p))[j], edges, weights) - r) / eps for j in range(len(p))]
    )
    n, m = len(r), len(p)
    dof = max(n - m, 1)
    order = np.argsort(model.phi[sel])
    tau = _autocorr_factor(r[order])
    s2 = float(r @ r) / dof
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2 * tau
    except np.linalg.LinAlgError:
        return LimbFit(
            ok=False,
            reason="fit singular: limb arc does not constrain the offset",
            n_limb_points=n,
            mode=mode,
        )
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
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
    )
    if not np.all(np.isfinite(p)) or abs(ds) > max_shift[0] + 5 or abs(dl) > max_shift[1] + 5:
        fit.ok, fit.reason = False, "fit diverged (offset outside the search window)"
    elif max(err[0], err[1]) > MAX_OFFSET_ERR_PX:
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
    max_shift_px: tuple[float, float] = (200.0, 20.0),
    fit_scale: bool = False,
    fit_rotation: bool = False,
    psf_sigma_px: float = 1.0,
    min_edge_snr: float = 5.0,
    night_edge_snr: float = 8.0,
    mask_hot_spots: bool = True,
    correct_bias: bool = True,
    min_coarse_snr: float = 6.0,
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

    Returns:
        :class:`LimbFit`; ``ok=False`` with a ``reason`` when the frame cannot be registered.

    Raises:
        NavigationError: for unusable inputs (see module docstring).
    """
    img = _check_image(image)
    if isinstance(predicted, Backplanes):
        if tuple(predicted.shape) != img.shape:
            raise NavigationError(f"image shape {img.shape} differs from the backplanes' {predicted.shape}")
        model = _model_from_backplanes(predicted)
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
    mode = "rotation" if model.k_matrix is not None else "translation"
    try:
        prep = _prepare(img, psf_sigma_px, mask_hot_spots)
    except ValueError as exc:
        return LimbFit(ok=False, reason=str(exc), mode=mode)
    if prep.grad_noise <= 1e-29 and np.ptp(prep.smooth) == 0:
        return LimbFit(ok=False, reason="image is constant: no limb signal", mode=mode)
    max_shift = (float(max_shift_px[0]), float(max_shift_px[1]))
    coarse = _coarse_shift(prep, model, max_shift)
    if coarse is None:
        return LimbFit(ok=False, reason="no limb in view anywhere in the search window", mode=mode)
    ds0, dl0, snr, factor = coarse
    if snr < min_coarse_snr:
        return LimbFit(
            ok=False,
            reason=f"no limb signal found (correlation peak SNR {snr:.1f})",
            coarse_snr=snr,
            mode=mode,
        )
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
    )
    fit.coarse_snr = snr
    return fit


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
