"""Navigation of a Frame: per-band backplanes from SPICE or the label, registered, with their pointing error.

Order of preference: SPICE kernels when given (the normal case for JIRAM), else the product's label/header
geometry. The predicted pointing may be off by the instrument's pointing prior (JIRAM: up to ~2° along
track, :class:`ioscan.instruments.PointingPrior`). Registration, best first:

1. **limb** (:func:`navigate_frame`): the limb fit, with the prior's search window and cross-track prior;
2. **hot spots** (:func:`register_on_hot_spots`, after detection): the frame's detections matched to known
   hot spots (:mod:`ioscan.geometry.anchors`; the shipped tables, a user's table of refined positions, or
   the detections of frames registered before — **chain**) by :mod:`ioscan.geometry.hotspot_registration`,
   with ≥ 2 independent matches and a false-match probability; each known hot spot's chance of being
   detected in the frame from its brightness, range, emission and the band's noise
   (:mod:`ioscan.geometry.detectability`);
3. **none**: the frame keeps its predicted geometry, and its pointing uncertainty — the posterior of the
   matcher, or the prior — is carried as samples (:attr:`Navigation.offset_samples_px`) into positions,
   emission, range and intensities (:mod:`ioscan.measure.positions`).

A registered frame carries its offset covariance the same way (samples of a Gaussian).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioscan.errors import IoscanError
from ioscan.geometry import limbfit
from ioscan.geometry.backplanes import Backplanes, LimbRegistration
from ioscan.geometry.config import NavigateConfig
from ioscan.geometry.views import PendingView, View
from ioscan.instruments import PointingPrior, get_instrument
from ioscan.records import Frame, LabelGeometry

#: registration methods, as stored with an observation
METHODS = ("limb", "hotspots", "chain", "none")
#: the limb fit's 1σ (which hold ``limbfit.OFFSET_MODEL_FLOOR_PX``) of a disk at least
#: :data:`LARGE_DISK_PX` across are scaled by this before they are propagated (with
#: ``PointingPrior.limb_floor_px`` in quadrature); smaller disks' by 1 (:func:`limb_offset_cov_px`). Measured
#: as one scale, 1.17 [1.09, 1.25] (68 % bootstrap over bands) on 128 limb registrations (campaign seeds
#: 1–12, ``bench_limbfit --campaign-only``, and close flybys, ``bench_navigation --quick`` seeds 5 and 6),
#: it pooled two populations: with the fit's own 1σ and the floor, the campaigns' disks < 400 px read pulls
#: rms 0.93 on seeds 1–12 (80 bands) and 1.05 on held-out seeds 13–18 (38), where × 1.2 made them 0.80 /
#: 0.90 and the intensities' geometric term of limb-registered campaign frames 1.3–1.4× its scatter
#: (``bench_pulls``); larger disks (close flybys, 700–8,600 px) read 1.50 / 1.70 with the fit's own 1σ and
#: 1.26 / 1.42 with × 1.2 (22 / 16 bands, heavy-tailed: another cause, not found; the scale is kept for
#: them). 1.4 was measured before the fit's errors held the offset floor and double-counted it. A floor in
#: km at the limb (the error fixed on the ground) fitted on seeds 1–6 gave disks ≥ 1,000 px pulls 0.40 on
#: seeds 7–12.
LIMB_ERROR_SCALE = 1.2
#: disks at least this many pixels across (2 × the limb fit's radius) take :data:`LIMB_ERROR_SCALE`: the
#: campaigns' far disks (40–400 px) are described by the fit's own 1σ, no simulated disk lies between 400 and
#: 700 px, and close-flyby disks of 700–1,000 px need the scale as larger ones do (with 1,000 px here,
#: ``bench_navigation --quick`` seed 5 limb pulls 1.21 / 1.26 → 1.35 / 1.42, limb positions inside their
#: 95 % ellipse 95.5 % → 83.3 %)
LARGE_DISK_PX = 400.0
#: a limb registration whose worse 1σ is at most this (px) is kept without refining the bands whose coarse
#: correlation SNR is below SECOND_BAND_SNR_RATIO × the strongest band's; otherwise the next band is refined
#: too and the smaller error kept (on 220 simulated frames, campaigns and close flybys, the same band as
#: refining every band; without the SNR condition one close-flyby frame of 20 limb registrations changed
#: band, which moved its hot spots, ``benchmarks/bench_navigation.py``). Measured as 0.5 px before the fit's
#: offsets carried ``limbfit.OFFSET_MODEL_FLOOR_PX`` in quadrature; the same decisions since: √(0.5² + floor²)
SECOND_BAND_ERR_PX = float(np.hypot(0.5, limbfit.OFFSET_MODEL_FLOOR_PX))
SECOND_BAND_SNR_RATIO = 0.5
#: what a limb fit may raise on odd data (reported, the band left unregistered)
_FIT_BREAKS = (ValueError, FloatingPointError, np.linalg.LinAlgError)


@dataclass
class Navigation:
    """Per-band geometry of a frame, how it was obtained and how uncertain its pointing is.

    Attributes:
        backplanes: band → Backplanes.
        views: band → :class:`~ioscan.geometry.views.View` (camera + pose) of the same geometry.
        source: "spice", "label" or "none" (where the predicted geometry came from).
        registered: True when the pointing was corrected (limb or hot spots).
        method: "limb", "hotspots", "chain" (hot spots of frames registered before) or "none".
        offset_px: (sample, line) correction applied (the scene shift, observed − predicted), pixels.
        offset_err_px: 1σ of the pointing error that remains along (sample, line), pixels.
        offset_cov_px: its 2×2 covariance, px² (the correction's for a registered frame; the posterior's or
            the prior's spread for an unregistered one).
        offset_samples_px: (N, 2) draws of the remaining pointing error relative to the backplanes' geometry
            (what measurement propagates into positions and intensities); None: use ``pointing_error_px``.
        false_match_prob: hot-spot registration: posterior probability that the match is wrong.
        n_matches: hot-spot registration: distinct known hot spots matched.
        n_match_detections: hot-spot registration: the detections the matcher could use (none: whatever the
            anchors, no registration and no posterior; None: not tried).
        prior: the instrument's pointing prior for this geometry source.
        pointing_floor_px: pointing uncertainty that remains whatever the fit says (the translation model's
            residual after registration, or the prior's 1σ for an unregistered frame), pixels.
        image_error_px: after a limb registration, the 1σ error of where the backplanes put the limb *in the
            image* (the fit's error with the pixel floor only), pixels: the ground floor in km (Io's limb is
            not the ellipsoid's) moves surface points, not the limb the fit matched; None otherwise.
        limb_band: the band whose limb fit registered the frame (None unless ``method`` is "limb").
        ground_err_km: after a limb registration, the 1σ ground position error it leaves beyond the pointing
            (``PointingPrior.limb_floor_km``), km: added to positions only, not to emission or range; 0
            otherwise.
        messages: human-readable notes (why a frame was not registered...).
    """

    backplanes: dict[str, Backplanes] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    source: str = "none"
    registered: bool = False
    method: str = "none"
    offset_px: tuple[float, float] = (0.0, 0.0)
    offset_err_px: tuple[float, float] = (0.0, 0.0)
    offset_cov_px: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))
    offset_samples_px: np.ndarray | None = None
    false_match_prob: float | None = None
    n_matches: int | None = None
    n_match_detections: int | None = None
    prior: PointingPrior | None = None
    pointing_floor_px: float = 0.0
    image_error_px: float | None = None
    limb_band: str | None = None
    ground_err_km: float = 0.0
    messages: list[str] = field(default_factory=list)
    _recompute: Callable | None = field(default=None, repr=False)

    @property
    def pointing_error_px(self) -> float:
        """1σ pointing error of the backplanes along the worse axis, pixels."""
        return max(max(self.offset_err_px), self.pointing_floor_px)

    @property
    def detection_error_px(self) -> float:
        """1σ error of the backplanes' limb and disk in the image, pixels (what detection is told)."""
        return self.pointing_error_px if self.image_error_px is None else self.image_error_px

    @property
    def offset_corr(self) -> float:
        """Correlation of the (sample, line) errors of the remaining pointing error."""
        c = self.offset_cov_px
        den = float(np.sqrt(c[0, 0] * c[1, 1]))
        return float(c[0, 1] / den) if den > 0 else 0.0

    def nearest_point(self) -> dict[str, float]:
        """Point (planetographic °N, west °W), range (km), scale (km/px) and phase (deg) of the disk pixel
        nearest the observer, in the band that sees most of the disk; empty without a disk in view."""
        if not self.backplanes:
            return {}
        bp = max(self.backplanes.values(), key=lambda b: int(b.on_disk.sum()))
        disk = bp.on_disk
        if not disk.any():
            return {}
        rng = np.where(disk, bp["range_km"], np.inf)
        i = np.array([np.argmin(rng)])  # its flat index: the other layers are read there alone

        def at(name: str) -> float:
            return float(bp.values_at(name, i)[0])

        return {
            "sub_observer_lat_deg": at("lat_deg"),
            "sub_observer_lon_w_deg": at("lon_w_deg"),
            "range_km": float(rng.reshape(-1)[i[0]]),
            "pixel_scale_km": at("pixel_scale_km"),
            "phase_deg": at("phase_deg"),
        }

    def header_cards(self) -> dict[str, object]:
        """The navigation as FITS keywords (≤ 8 characters), for backplane files: NAVSRC geometry source,
        NAVMETH registration method, PNTOFFS/PNTOFFL applied offset (sample, line) px, PNTERRS/PNTERRL
        remaining 1σ px, PNTCORR their correlation, PFALSE false-match probability and NANCHOR known hot
        spots matched (hot-spot registration only)."""
        cards: dict[str, object] = {
            "NAVSRC": self.source,
            "NAVMETH": self.method,
            "PNTOFFS": float(self.offset_px[0]),
            "PNTOFFL": float(self.offset_px[1]),
            "PNTERRS": float(self.offset_err_px[0]),
            "PNTERRL": float(self.offset_err_px[1]),
            "PNTCORR": float(self.offset_corr),
        }
        if self.false_match_prob is not None:
            cards["PFALSE"] = float(self.false_match_prob)
            cards["NANCHOR"] = int(self.n_matches or 0)
        return cards

    def apply(self, offset_px, band_name: str, anchor_px) -> None:
        """Re-point the geometry so a scene point predicted at ``anchor_px`` of ``band_name`` moves by
        ``offset_px`` (all bands; exact rotation for SPICE, a shifted disk centre for label geometry)."""
        if self._recompute is None:
            raise IoscanError("this navigation has no geometry to re-point")
        self.backplanes, self.views = self._recompute(tuple(map(float, offset_px)), band_name, anchor_px)
        self.offset_px = (float(offset_px[0]), float(offset_px[1]))


#: the predicted SPICE geometry defers its surface terms (``SpiceGeometry.backplanes(defer_surface=True)``):
#: the limb fit reads incidence at its Sun fit's pixels alone, so a limb-registered frame never makes them
#: for the box (the same values; False: made at once, as the re-pointed geometry's are)
DEFER_PREDICTED_SURFACE = True


def navigate_frame(
    frame: Frame,
    *,
    kernels: Path | None = None,
    register: bool = True,
    config: NavigateConfig | None = None,
) -> Navigation:
    """Backplanes for every band of ``frame`` (see module docstring), registered on the limb when one is
    seen. Never raises for a frame that simply cannot be registered; raises GeometryError for unusable
    kernels or label geometry. Hot-spot registration needs detections: :func:`register_on_hot_spots`."""
    cfg = config or NavigateConfig()
    nav = Navigation()
    inst = get_instrument(frame.instrument)
    if kernels is not None and all(b.spice_frame for b in frame.bands.values()):
        from ioscan.geometry.spice_provider import spice_geometry

        geo = spice_geometry(kernels)

        def spice(off=(0.0, 0.0), band_name=None, anchor=None):
            w = None
            if band_name is not None and (off[0] or off[1]):
                w = geo.pointing_correction(frame.time_utc, frame.bands[band_name].spice_frame, anchor, off)
            bps, views = {}, {}
            for n, b in frame.bands.items():
                bps[n] = geo.backplanes(
                    frame.time_utc,
                    b.spice_frame,
                    pointing_correction_j2000=w,
                    defer_surface=DEFER_PREDICTED_SURFACE and w is None,
                )
                # the predicted views' poses are made on first read: a limb registration replaces them unread
                make_pose = geo.pose_maker(frame.time_utc, b.spice_frame, pointing_correction_j2000=w)
                cam = geo.camera(b.spice_frame)
                views[n] = PendingView(cam, make_pose) if w is None else View(cam, make_pose())
            return bps, views

        nav._recompute = spice
        nav.source = "spice"
    elif frame.label_geometry is not None:
        from ioscan.geometry.label_provider import backplanes_from_label, camera_from_label, pose_from_label

        axes = inst.label_axes

        def from_label(off=(0.0, 0.0), band_name=None, anchor=None):
            g = frame.label_geometry
            shifted = LabelGeometry(
                **{
                    **g.__dict__,
                    "disk_center_sample": g.disk_center_sample + off[0],
                    "disk_center_line": g.disk_center_line + off[1],
                }
            )
            bps, views = {}, {}
            for n, b in frame.bands.items():
                bg = band_label_geometry(frame, b, shifted)
                ns, nl = b.shape[1], b.shape[0]
                bps[n] = backplanes_from_label(bg, ns, nl, frame.time_utc, axes=axes)
                views[n] = View(
                    camera_from_label(bg, ns, nl, axes=axes), pose_from_label(bg, frame.time_utc, axes=axes)
                )
            return bps, views

        nav._recompute = from_label
        nav.source = "label"
    else:
        nav.messages.append("no geometry: no kernels given and no label geometry")
        return nav
    nav.backplanes, nav.views = nav._recompute()
    nav.prior = inst.pointing_prior(nav.source)
    nav.pointing_floor_px = nav.prior.error_px
    nav.offset_err_px = tuple(float(s) for s in nav.prior.sigma_px)
    nav.offset_cov_px = np.diag(np.square(nav.prior.sigma_px))
    if register:
        _register_limb(frame, nav)
    if not nav.registered:
        nav.offset_samples_px = _prior_samples(nav.prior, cfg.n_pointing_samples, _seed(frame))
    return nav


def register_on_limb(frame: Frame, nav: Navigation) -> Navigation:
    """Register on the limb a navigation made with ``register=False`` (in place; returned): the same result
    as :func:`navigate_frame` with ``register=True``, without computing the predicted geometry again."""
    if nav.registered or nav.prior is None or not nav.backplanes:
        return nav
    _register_limb(frame, nav)
    return nav  # unregistered: its prior draws (made by navigate_frame, seeded per product) stand


def _seed(frame: Frame) -> int:
    """A per-product seed, so that results do not depend on the order frames are processed in."""
    import zlib

    return zlib.crc32(frame.product_id.encode())


def _prior_samples(prior: PointingPrior, n: int, seed: int) -> np.ndarray:
    """Draws of the truncated Gaussian prior (sample, line), px."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 2))
    for k in range(2):
        sig, top = prior.sigma_px[k], prior.max_px[k]
        got = np.zeros(0)
        while got.size < n:
            x = rng.normal(0.0, sig, 2 * n)
            got = np.concatenate([got, x[np.abs(x) <= top]])
        out[:, k] = got[:n]
    return out


def _gaussian_samples(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``np.random.default_rng(seed).multivariate_normal(np.zeros(2), cov, n)`` bit for bit, without its
    checks (~0.15 → 0.07 ms): numpy's SVD method, the same draws times (U·√s)ᵀ plus the zero mean. Unlike
    numpy, a covariance that is not positive semi-definite is not warned about (a navigation's never is)."""
    u, s, _ = np.linalg.svd(np.asarray(cov, dtype=np.double))
    x = np.random.default_rng(seed).standard_normal((n, 2))
    return np.zeros(2) + x @ (u * np.sqrt(s)).T


def band_label_geometry(frame: Frame, band, geom: LabelGeometry) -> LabelGeometry:
    """Label geometry in one band's own pixel frame.

    The label's disk centre is given in the first band's pixels. JIRAM's M band sits 138 detector lines
    (128 L lines + the 10-line gap) below the L band, so in an I1 product the M band sees the disk centre
    138 lines higher up than the L band does.
    """
    if band.line_offset == 0:
        return geom
    inst = get_instrument(frame.instrument)
    first = min(frame.bands.values(), key=lambda b: b.line_offset)
    lines = inst.band(band.band).first_detector_line - inst.band(first.band).first_detector_line
    detector_offset = lines if lines > 0 else band.line_offset
    return LabelGeometry(**{**geom.__dict__, "disk_center_line": geom.disk_center_line - detector_offset})


def limb_psf_sigma_px(frame: Frame, band) -> float:
    """Gaussian σ (px) that blurs Io's limb in ``band`` (the instrument registry's, for the limb fit)."""
    return get_instrument(frame.instrument).limb_psf_sigma_px(
        band.wavelength_um, plate_scale_arcsec=frame.metadata.get("plate_scale_arcsec")
    )


def _limb_anchor(predicted: Backplanes) -> tuple[float, float]:
    """Mean (sample, line) of the predicted limb inside the frame: where a limb fit measures its shift (for a
    close pass the disk centre lies far outside the frame, where a rotation shifts the scene differently)."""
    near = np.abs(predicted["limb_distance_px"]) < 1.5
    if not near.any():
        n_lines, n_samples = predicted.shape
        return (n_samples - 1) / 2.0, (n_lines - 1) / 2.0
    lines, samples = np.nonzero(near)
    return float(samples.mean()), float(lines.mean())


def _limb_floor_px(prior, backplanes: Backplanes) -> float:
    """The pointing error a limb registration leaves whatever its fit says, px: max(``limb_floor_px``,
    ``limb_floor_km`` / the pixel scale along the limb of ``backplanes``, the registered geometry's) (see
    :class:`PointingPrior`)."""
    near = (np.abs(backplanes["limb_distance_px"]) < 1.5) & np.isfinite(backplanes["pixel_scale_km"])
    if not near.any():
        return float(prior.limb_floor_px)
    scale_km = float(np.median(backplanes["pixel_scale_km"][near]))
    return float(max(prior.limb_floor_px, prior.limb_floor_km / scale_km if scale_km > 0 else 0.0))


def limb_error_scale(disk_px: float | None) -> float:
    """The factor on a limb fit's 1σ for a disk ``disk_px`` across (px): :data:`LIMB_ERROR_SCALE` from
    :data:`LARGE_DISK_PX` on (and when the size is not known), 1 below."""
    if disk_px is None or not np.isfinite(disk_px) or disk_px >= LARGE_DISK_PX:
        return LIMB_ERROR_SCALE
    return 1.0


def limb_offset_cov_px(
    offset_err_px: tuple[float, float], corr: float, pixel_floor_px: float, disk_px: float | None = None
) -> np.ndarray:
    """The 2×2 covariance (sample, line), px², of a limb registration's offset: the fit's 1σ ×
    :func:`limb_error_scale` (of the disk's size ``disk_px`` across; None: unknown) with their correlation
    ``corr``, plus ``pixel_floor_px`` on each axis."""
    err = limb_error_scale(disk_px) * np.asarray(offset_err_px, dtype=float)
    cov = np.outer(err, err) * np.array([[1.0, corr], [corr, 1.0]])
    return cov + np.eye(2) * pixel_floor_px**2


def _register_limb(frame: Frame, nav: Navigation) -> None:
    """Fit the limb in the band that shows it best; apply the shared offset to every band.

    Every band's fit is taken to its coarse step (image prepared, search window correlated), then refined
    band by band in order of the coarse correlation's SNR, strongest first: the first registration whose
    worse 1σ is ≤ :data:`SECOND_BAND_ERR_PX` is kept without refining the bands whose limb is much weaker
    (coarse SNR < :data:`SECOND_BAND_SNR_RATIO` × the strongest's; most of a fit's time); otherwise the next
    band is refined too and the smaller error kept."""
    best = None
    prior = nav.prior
    started = []
    for name, band in frame.bands.items():
        try:
            coarse = limbfit.start_limb_fit(
                band.data,
                nav.backplanes[name],
                psf_sigma_px=limb_psf_sigma_px(frame, band),
                max_shift_px=prior.search_px(),
                prior_sigma_px=prior.limb_prior_px(),
            )
        except IoscanError as exc:
            nav.messages.append(f"band {name}: {exc}")
            continue
        except _FIT_BREAKS as exc:  # a fit that breaks on odd data
            nav.messages.append(f"band {name}: limb fit failed ({type(exc).__name__}: {exc})")
            continue
        if coarse.failed is not None:
            nav.messages.append(f"band {name}: not registered ({coarse.failed.reason})")
            continue
        started.append((coarse, name))
    started.sort(key=lambda c: -c[0].snr)
    for k, (coarse, name) in enumerate(started):
        weak = coarse.snr < SECOND_BAND_SNR_RATIO * started[0][0].snr
        if best is not None and best[0] <= SECOND_BAND_ERR_PX and weak:
            left = ", ".join(n for _, n in started[k:])
            nav.messages.append(
                f"band {best[2]} registered on the limb (coarse SNR {best[3]:.0f}); not refined: {left} "
                f"(coarse SNR {coarse.snr:.0f})"
            )
            break
        try:
            fit = coarse.refine()
        except _FIT_BREAKS as exc:
            nav.messages.append(f"band {name}: limb fit failed ({type(exc).__name__}: {exc})")
            continue
        if not fit.ok:
            nav.messages.append(f"band {name}: not registered ({fit.reason})")
            continue
        err = max(fit.offset_err_px)
        if best is None or err < best[0]:
            best = (err, fit, name, coarse.snr)
    if best is None:
        return
    _, fit, band_name, _ = best
    offset = (float(fit.offset_sample_px), float(fit.offset_line_px))
    nav.apply(offset, band_name, _limb_anchor(nav.backplanes[band_name]))
    registration = LimbRegistration(
        band=band_name,
        offset_px=offset,
        offset_err_px=(float(fit.offset_err_px[0]), float(fit.offset_err_px[1])),
        rms_px=float(fit.rms_px),
        n_limb_points=int(fit.n_limb_points),
    )
    for bp in nav.backplanes.values():  # (made just now by apply: no one else holds them)
        bp.limb_registration = registration
    nav.registered = True
    nav.method = "limb"
    nav.limb_band = band_name
    nav.pointing_floor_px = _limb_floor_px(prior, nav.backplanes[band_name])
    # the pointing the draws propagate (positions, emission, range, intensity) holds the pixel floor only;
    # the ground floor (km) is a position error (measure.positions), not a pointing one
    nav.offset_cov_px = limb_offset_cov_px(
        fit.offset_err_px, fit.offset_corr, prior.limb_floor_px, disk_px=2.0 * fit.radius_px
    )
    nav.ground_err_km = float(prior.limb_floor_km)
    nav.image_error_px = float(np.sqrt(max(np.diag(nav.offset_cov_px))))
    nav.offset_err_px = tuple(float(v) for v in np.sqrt(np.diag(nav.offset_cov_px)))
    nav.offset_samples_px = _gaussian_samples(nav.offset_cov_px, 256, _seed(frame))


# ----------------------------------------------------------------------------------------- hot spots
def register_on_hot_spots(
    frame: Frame,
    nav: Navigation,
    detections,
    anchors,
    config: NavigateConfig | None = None,
    *,
    method: str | None = None,
):
    """Register a frame that the limb did not on known hot spots (module docstring, step 2).

    Args:
        frame: the frame.
        nav: its navigation (updated in place: geometry re-pointed when registered; the pointing samples
            otherwise come from the matcher's posterior).
        detections: the frame's detections (pixel positions; cosmic rays and artefacts are left out).
        anchors: anchor table (:mod:`ioscan.geometry.anchors`).
        config: navigation settings (P_d, limits, number of samples).
        method: what to call a success; None: "chain" when a matched anchor comes from another frame
            (group "frame:<product>", :func:`ioscan.geometry.anchors.anchors_from_detections`), else
            "hotspots".

    Returns:
        The :class:`~ioscan.geometry.hotspot_registration.Registration` (None without geometry).
    """
    from ioscan.geometry.hotspot_registration import match_offsets

    cfg = config or NavigateConfig()
    if not nav.views or nav.prior is None or nav.registered:
        return None
    prob, bands = match_problem(frame, nav, detections, anchors, cfg)
    nav.n_match_detections = prob.n_det
    reg = match_offsets(
        prob,
        nav.prior,
        min_matches=cfg.min_matches,
        max_false_match_prob=cfg.max_false_match_prob,
        floor_px=nav.prior.registered_floor_px,
    )
    nav.false_match_prob = float(reg.false_match_prob)
    nav.n_matches = int(reg.n_matches)
    if not reg.ok:
        nav.messages.append(f"not registered on known hot spots: {reg.reason}")
        if cfg.posterior_samples and prob.n_det > 0:
            rng = np.random.default_rng(_seed(frame) + 1)
            nav.offset_samples_px = reg.sample(rng, cfg.n_pointing_samples)
            nav.offset_cov_px = np.cov(nav.offset_samples_px.T)
            nav.offset_err_px = tuple(float(v) for v in np.sqrt(np.diag(nav.offset_cov_px)))
        return reg
    # re-point about the matched anchors' predicted positions in the band with most matches
    counts: dict[int, list] = {}
    for i, j in reg.pairs:
        b = int(prob.det_band[i])
        counts.setdefault(b, []).append(prob.anc_xy[j, b])
    b_best = max(counts, key=lambda k: len(counts[k]))
    anchor_px = tuple(np.mean(counts[b_best], axis=0))
    nav.apply(reg.offset_px, bands[b_best], anchor_px)
    nav.registered = True
    if method is None:
        chained = any(str(prob.anc_group[j]).startswith("frame:") for _, j in reg.pairs)
        method = "chain" if chained else "hotspots"
    nav.method = method
    nav.offset_cov_px = np.asarray(reg.cov_px, dtype=float)
    nav.offset_err_px = tuple(float(v) for v in np.sqrt(np.diag(nav.offset_cov_px)))
    nav.pointing_floor_px = nav.prior.registered_floor_px
    nav.offset_samples_px = _gaussian_samples(nav.offset_cov_px, cfg.n_pointing_samples, _seed(frame))
    nav.messages.append(
        f"registered on {reg.n_matches} known hot spots ({method}): offset "
        f"({reg.offset_px[0]:.1f}, {reg.offset_px[1]:.1f}) px, false-match probability "
        f"{reg.false_match_prob:.2g}"
    )
    return reg


#: anchor tables' surface points (:func:`anchor_points_km`), by their coordinates, most recent last
_ANCHOR_POINTS: OrderedDict[tuple[bytes, bytes], np.ndarray] = OrderedDict()
#: anchor tables whose points are kept (the shipped table, a user's, a few chaining tables)
ANCHOR_POINTS_KEPT = 8


def anchor_points_km(lat_deg: np.ndarray, lon_w_deg: np.ndarray) -> np.ndarray:
    """(m, 3) body-fixed surface points (km) of anchors at planetographic ``lat_deg`` °N, ``lon_w_deg`` °W:
    :func:`ioscan.body.surface_point_from_lat_pg` of these arrays, kept for the same coordinates (every frame
    matches the same table: ~1.6 ms a frame for the shipped 365 anchors), and a kept table's points reused
    for a table that begins with it (a chaining retry's: the shipped table, then chained detections).
    Read-only."""
    from ioscan import body as iobody

    lat = np.ascontiguousarray(lat_deg, dtype=float)
    lon = np.ascontiguousarray(lon_w_deg, dtype=float)
    key = (lat.tobytes(), lon.tobytes())
    pts = _ANCHOR_POINTS.get(key)
    if pts is None:
        # a chaining table is the shipped table with the chained frames' detections after it: the points of a
        # kept table that begins it are reused, and only the rest made (each row's numbers are its own:
        # numpy's functions lane by lane, the same bits on any split, tested)
        m, head = 0, None
        for k, kept in _ANCHOR_POINTS.items():
            if m < len(k[0]) < len(key[0]) and key[0].startswith(k[0]) and key[1].startswith(k[1]):
                m, head, head_key = len(k[0]), kept, k
        if head is None:
            pts = iobody.surface_point_from_lat_pg(lat, lon)
        else:
            _ANCHOR_POINTS.move_to_end(head_key)  # (kept as long as it serves)
            n_head = len(head)
            pts = np.concatenate([head, iobody.surface_point_from_lat_pg(lat[n_head:], lon[n_head:])])
        pts.setflags(write=False)
        _ANCHOR_POINTS[key] = pts
        while len(_ANCHOR_POINTS) > ANCHOR_POINTS_KEPT:
            _ANCHOR_POINTS.popitem(last=False)
    else:
        _ANCHOR_POINTS.move_to_end(key)
    return pts


#: anchor tables' tangent-plane steps (:func:`anchor_tangent_points_km`), by their points, most recent last
_TANGENT_POINTS: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()


def anchor_tangent_points_km(points_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p + north, p + east): the surface points ``points_km`` (m, 3) moved 1 km north and 1 km east in their
    tangent planes, as :meth:`ioscan.geometry.views.View.pixels_per_km` steps them (the same operations on
    the same array: the same bits), kept for the same points (they do not depend on the view: every band of
    every frame matched against a table steps the same points). Read-only."""
    from ioscan.geometry.views import tangent_steps_km

    p = np.ascontiguousarray(points_km, dtype=float)
    key = p.tobytes()
    hit = _TANGENT_POINTS.get(key)
    if hit is not None:
        _TANGENT_POINTS.move_to_end(key)
        return hit
    north, east = tangent_steps_km(p)
    hit = (p + north, p + east)
    for a in hit:
        a.setflags(write=False)
    _TANGENT_POINTS[key] = hit
    while len(_TANGENT_POINTS) > ANCHOR_POINTS_KEPT:
        _TANGENT_POINTS.popitem(last=False)
    return hit


def project_with_jacobian(view: View, points_km: np.ndarray):
    """``view.project(points_km)`` and ``view.pixels_per_km(points_km)`` of surface points (m, 3) in one:
    (sample, line, visible, (m, 2, 2) Jacobian d(sample, line)/d(north km, east km)); the points projected
    once (``pixels_per_km`` projects them again) and their tangent steps kept
    (:func:`anchor_tangent_points_km`). The same values bit for bit."""
    p_north, p_east = anchor_tangent_points_km(points_km)
    s0, l0, vis = view.project(points_km)
    sn, ln_, _ = view.project(p_north)
    se, le, _ = view.project(p_east)
    jac = np.stack([np.stack([sn - s0, se - s0], -1), np.stack([ln_ - l0, le - l0], -1)], -2)
    return s0, l0, vis, jac


#: an anchor table's columns as numpy arrays (what :func:`match_problem` reads of it), for the last tables
_COLUMNS: OrderedDict[int, tuple[object, dict[str, np.ndarray]]] = OrderedDict()


def _anchor_columns(anchors) -> dict[str, np.ndarray]:
    """The columns of ``anchors`` :func:`match_problem` reads, as numpy arrays, kept while the same table
    object is given again (the shipped table, every frame: pandas' column access ~0.5 ms a frame; a table is
    never changed in place once loaded)."""
    hit = _COLUMNS.get(id(anchors))
    if hit is not None and hit[0] is anchors:
        _COLUMNS.move_to_end(id(anchors))
        return hit[1]
    cols = {
        "lat_deg": anchors["lat_deg"].to_numpy(float),
        "lon_w_deg": anchors["lon_w_deg"].to_numpy(float),
        "sigma_km": anchors["sigma_km"].to_numpy(float),
        "tail_sigma_km": anchors["tail_sigma_km"].to_numpy(float),
        "tail_fraction": anchors["tail_fraction"].to_numpy(float),
        "shared_sigma_km": anchors["shared_sigma_km"].to_numpy(float),
        "group": anchors["group"].to_numpy(),
        "anchor_id": anchors["anchor_id"].to_numpy(),
    }
    for name in ("m_power_gw_um", "m_power_sigma_ln"):
        if name in anchors.columns:
            cols[name] = anchors[name].to_numpy(float)
    _COLUMNS[id(anchors)] = (anchors, cols)
    while len(_COLUMNS) > ANCHOR_POINTS_KEPT:
        _COLUMNS.popitem(last=False)
    return cols


def match_problem(frame: Frame, nav: Navigation, detections, anchors, cfg: NavigateConfig):
    """The matcher's inputs: usable detections and the anchors that can land in the frame, in pixels of
    each band's current geometry. Returns (MatchProblem, band names in index order)."""
    from ioscan.geometry.hotspot_registration import MatchProblem
    from ioscan.records import DetectionFlag

    bands = list(frame.bands)
    bad = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)
    usable = [
        d
        for d in detections
        if not (d.flags & bad) and d.band in bands and np.isfinite(d.snr) and d.snr >= cfg.min_snr
    ]
    n = len(usable)
    det_xy = np.array([[d.sample, d.line - int(d.extra.get("line_offset", 0))] for d in usable]).reshape(n, 2)
    sat, edge = int(DetectionFlag.SATURATED), int(DetectionFlag.EDGE)
    det_cov = np.zeros((n, 2, 2))
    for k, d in enumerate(usable):
        # a saturated core, or a source cut by the frame's edge, has a displaced centroid
        extra = max(
            cfg.saturated_centroid_px if d.flags & sat else 0.0,
            cfg.edge_centroid_px if d.flags & edge else 0.0,
        )
        floor = cfg.centroid_floor_px
        det_cov[k, 0, 0] = d.sample_err_px**2 + floor**2 + extra**2
        det_cov[k, 1, 1] = d.line_err_px**2 + floor**2 + extra**2
    det_band = np.array([bands.index(d.band) for d in usable], dtype=int)
    # anchors that may land in some band under any offset the prior allows
    a = _anchor_columns(anchors)
    pts = anchor_points_km(a["lat_deg"], a["lon_w_deg"])
    m, nb = len(pts), len(bands)
    anc_xy = np.full((m, nb, 2), np.nan)
    jac = np.zeros((m, nb, 2, 2))
    for bi, name in enumerate(bands):
        s, ln, vis, jac[:, bi] = project_with_jacobian(nav.views[name], pts)
        anc_xy[vis, bi, 0], anc_xy[vis, bi, 1] = s[vis], ln[vis]
    sig = a["sigma_km"]
    jjt = np.einsum("mbij,mbkj->mbik", jac, jac)
    anc_cov = sig[:, None, None, None] ** 2 * jjt
    reach = np.asarray(nav.prior.max_px) + 4.0 * np.sqrt(np.diagonal(anc_cov, axis1=2, axis2=3))
    shape = np.array([[frame.bands[b].shape[1], frame.bands[b].shape[0]] for b in bands], dtype=float)
    with np.errstate(invalid="ignore"):
        near = (anc_xy >= -reach) & (anc_xy <= shape[None] - 1 + reach)
    keep = np.flatnonzero(np.any(np.all(near, axis=2), axis=1))
    shared = a["shared_sigma_km"]
    prob = MatchProblem(
        det_xy=det_xy,
        det_cov=det_cov,
        det_band=det_band,
        anc_xy=anc_xy[keep],
        anc_cov=anc_cov[keep],
        anc_tail_scale=(a["tail_sigma_km"] / sig)[keep],
        anc_tail_fraction=a["tail_fraction"][keep],
        anc_pd=_anchor_detect_prob(frame, bands, usable, a, keep, anc_xy, jac, cfg),
        band_shape=shape,
        anc_group=a["group"][keep],
        anc_shared_cov=(shared[:, None, None, None] ** 2 * jjt)[keep],
        anc_id=a["anchor_id"][keep],
        det_cluster=_clusters(det_xy, det_band, cfg.same_source_px),
        anc_source=_same_sources(pts[keep], sig[keep]),
    )
    return prob, bands


def _anchor_detect_prob(
    frame: Frame, bands: list, usable: list, anchors, keep, anc_xy, jac, cfg: NavigateConfig
) -> np.ndarray:
    """(k,) P_d of the anchors ``keep`` (:mod:`ioscan.geometry.detectability`): from their brightness, the
    area their surface covers in each band that shows them (``anc_xy`` finite; ``jac``: (m, B, 2, 2) px per
    km) and each band's faint-source
    flux noise from its usable detections; the configured default without a brightness column, or with
    ``cfg.anchor_detect_model == "constant"``."""
    from ioscan.geometry.detectability import band_flux_noise, detect_prob
    from ioscan.measure.intensity import spectral_factor

    default = np.full(len(keep), cfg.anchor_detect_prob)
    if cfg.anchor_detect_model == "constant" or "m_power_gw_um" not in anchors or not len(keep):
        return default
    noise = np.full(len(bands), np.nan)
    wavelength = np.full(len(bands), np.nan)
    for bi, name in enumerate(bands):
        band = frame.bands[name]
        errs = [d.net_radiance_sum_err for d in usable if d.band == name]
        noise[bi] = band_flux_noise(np.array(errs, dtype=float)) * spectral_factor(band)
        wavelength[bi] = band.wavelength_um if band.wavelength_um is not None else np.nan
    j = jac[keep]
    area = np.abs(j[..., 0, 0] * j[..., 1, 1] - j[..., 0, 1] * j[..., 1, 0])
    area = np.where(np.isfinite(anc_xy[keep, :, 0]), area, np.nan)
    return detect_prob(
        np.asarray(anchors["m_power_gw_um"], dtype=float)[keep],
        np.asarray(anchors["m_power_sigma_ln"], dtype=float)[keep],
        area,
        noise,
        wavelength,
        cfg.min_snr,
        cfg.anchor_detect_prob,
        anc_xy=anc_xy[keep],
        blend_px=cfg.same_source_px,
    )


def _union_find(n: int, pairs) -> np.ndarray:
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in pairs:
        parent[root(int(a))] = root(int(b))
    return np.array([root(k) for k in range(n)])


def _clusters(xy: np.ndarray, band: np.ndarray, radius_px: float) -> np.ndarray:
    """Labels of detections closer than ``radius_px`` in one band (chains of them): possibly one source."""
    n = len(xy)
    if n < 2:
        return np.arange(n)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    close = (d < radius_px) & (band[:, None] == band[None, :])
    return _union_find(n, zip(*np.nonzero(np.triu(close, 1)), strict=True))


def pair_distances_km(points_km: np.ndarray) -> np.ndarray:
    """(m, m) distances between points (m, 3), km: ``np.linalg.norm(p[:, None] - p[None], axis=-1)`` bit for
    bit (the squares summed x, y, z left to right, then the root), a component at a time (its reduction over
    an axis of three cost ~1 ms for 180 anchors)."""
    p = np.asarray(points_km, dtype=float)
    d2 = np.zeros((len(p), len(p)))
    for k in range(p.shape[1]):
        diff = p[:, k, None] - p[None, :, k]
        d2 += diff * diff
    return np.sqrt(d2, out=d2)


def _same_sources(points_km: np.ndarray, sigma_km: np.ndarray) -> np.ndarray:
    """Labels of anchors closer than twice the larger of their position errors: possibly one hot spot
    listed twice (two tables, or a table and a registered frame); they are matched and counted once."""
    m = len(points_km)
    if m < 2:
        return np.arange(m)
    same = pair_distances_km(points_km) < 2.0 * np.maximum(sigma_km[:, None], sigma_km[None, :])
    return _union_find(m, zip(*np.nonzero(np.triu(same, 1)), strict=True))
