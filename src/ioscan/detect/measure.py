"""One frame end to end: background → matched-filter detection → photometry → saturated cores placed
(:mod:`ioscan.detect.saturated`) → second pass near bright sources (:mod:`ioscan.detect.second_pass`) →
flags → geometry → two-band pairs.

:func:`detect_frame` never raises on bad pixel data: an all-NaN, saturated or Io-less frame, or a frame with
no hot spot, comes back with a clear ``status`` and no entries; one odd source is flagged, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioscan.detect.artefacts import MIN_FIT_SNR, flag_bright_source_artefacts, flag_unconfirmed
from ioscan.detect.background import (
    BROAD_PSF_SIGMA_PX,
    BandModel,
    annulus_sizes,
    estimate_background,
)
from ioscan.detect.columns import remove_column_streaks
from ioscan.detect.config import DetectConfig
from ioscan.detect.disk import laplacian_noise, limb_distance_from_data
from ioscan.detect.find import find_peaks, spike_dchi2, unresolved_duplicates
from ioscan.detect.photometry import (
    fit_radius_px,
    fit_sources,
    spectral_factor,
    spectral_intensity_gw_um_sr,
    surface_positions,
)
from ioscan.detect.psf import PsfModel
from ioscan.detect.saturated import recentre_saturated
from ioscan.detect.second_pass import search_again
from ioscan.detect.shading import shading_template, sunlit_mask
from ioscan.detect.types import Detection, DetectionFlag
from ioscan.frame import BandImage, Frame
from ioscan.geometry.backplanes import Backplanes

STATUSES = ("ok", "no_io", "all_nan", "saturated", "no_detections")
#: pointing error (px) beyond which the geometry's limb is not used for the background regions: the limb is
#: then fitted in the data (an unregistered frame whose kernels may be off by up to ~2°)
MAX_GEOMETRY_LIMB_ERROR_PX = 3.0


@dataclass
class BandDetections:
    """Result for one band: its detections, status, noise and (optionally) the background model."""

    band: str
    status: str
    detections: list[Detection] = field(default_factory=list)
    noise_median: float | None = None
    messages: list[str] = field(default_factory=list)
    model: BandModel | None = None
    offset: tuple[int, int] = (0, 0)  #: (line, sample) of the model's first pixel in the band image


@dataclass
class FrameDetections:
    """Detections of one frame.

    Attributes:
        product_id: the frame's product ID.
        detections: all detections of all bands (flagged ones included).
        status: "ok", "no_io", "all_nan", "saturated" or "no_detections" (the best over the bands).
        band_status: band → status.
        noise: band → median local noise, in the band's unit.
        messages: what happened (skipped bands, capped lists, failed colour fits...).
        bands: band → :class:`BandDetections` (with background models when requested).
    """

    product_id: str
    detections: list[Detection]
    status: str
    band_status: dict[str, str]
    noise: dict[str, float | None]
    messages: list[str]
    bands: dict[str, BandDetections] = field(default_factory=dict)

    @property
    def hot_spots(self) -> list[Detection]:
        """Detections that are not flagged as cosmic rays or artefacts."""
        bad = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT
        return [d for d in self.detections if not (d.flags & bad)]

    @property
    def flags(self) -> int:
        """OR of all detection flags."""
        out = 0
        for d in self.detections:
            out |= d.flags
        return out


def _crop_box(keep: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    if rows.size == 0:
        return None
    nl, ns = keep.shape
    return (
        slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, nl)),
        slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, ns)),
    )


def _nan_to(x: np.ndarray, value: float) -> np.ndarray:
    """``np.nan_to_num(x, nan=value)`` with less overhead for the small windows here (infinities, which
    nan_to_num also replaces, take its own path)."""
    x = np.asarray(x)
    if np.isinf(x).any():
        return np.nan_to_num(x, nan=value)
    return np.where(np.isnan(x), value, x)


def _n_bright(
    data: np.ndarray, background: np.ndarray, noise: np.ndarray, i: int, j: int, l0: int, s0: int
) -> int:
    """Pixels of the 5×5 around the brightest pixel near (i, j) (crop coordinates) above 5 % of its net value
    (and above 4σ).

    A hot spot spreads over ≥ 3 such pixels (PSF core σ ≳ 0.4 px), saturated or not; a cosmic-ray hit
    (1–2 pixels, possibly clipped at full well) does not."""
    nl, ns = background.shape
    win = data[l0 + max(i - 1, 0) : l0 + min(i + 2, nl), s0 + max(j - 1, 0) : s0 + min(j + 2, ns)]
    bwin = background[max(i - 1, 0) : min(i + 2, nl), max(j - 1, 0) : min(j + 2, ns)]
    net = _nan_to(win - bwin, -np.inf)
    a, b = np.unravel_index(int(np.argmax(net)), net.shape)
    ci, cj = max(i - 1, 0) + a, max(j - 1, 0) + b
    sl = (slice(max(ci - 2, 0), ci + 3), slice(max(cj - 2, 0), cj + 3))
    big = data[l0 + sl[0].start : l0 + sl[0].stop, s0 + sl[1].start : s0 + sl[1].stop] - background[sl]
    level = np.maximum(0.05 * net[a, b], 4.0 * noise[sl])
    return int(np.count_nonzero(_nan_to(big, 0.0) > level))


def _spike_ratio(data: np.ndarray, i: int, j: int) -> float:
    """Brightest raw pixel near (i, j) over the second-brightest of its four neighbours (the brightest one
    may be a 2-pixel track). A PSF of core σ ≳ 0.4 px keeps this below ~3 (background only lowers it); a
    cosmic-ray hit is far above, even where no background model holds (limb band)."""
    nl, ns = data.shape
    win = _nan_to(data[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3], -np.inf)
    a, b = np.unravel_index(int(np.argmax(win)), win.shape)
    ci, cj = max(i - 2, 0) + a, max(j - 2, 0) + b
    nb = sorted(
        float(data[y, x])
        for y, x in ((ci - 1, cj), (ci + 1, cj), (ci, cj - 1), (ci, cj + 1))
        if 0 <= y < nl and 0 <= x < ns and np.isfinite(data[y, x])
    )
    if len(nb) < 2 or nb[-2] <= 0:
        return 0.0
    return float(data[ci, cj]) / nb[-2]


def detect_band(
    band: BandImage,
    backplanes: Backplanes | None = None,
    *,
    instrument: str = "",
    config: DetectConfig | None = None,
    keep_model: bool = False,
) -> BandDetections:
    """Detect and measure hot spots in one band image (see :func:`detect_frame`)."""
    cfg = config or DetectConfig()
    psf: PsfModel = cfg.psf_for(band.band, instrument, band.wavelength_um)
    sigma = psf.core_sigma_px
    data = np.asarray(band.data)
    out = BandDetections(band=band.band, status="ok")
    if data.ndim != 2 or data.size == 0:
        out.status = "all_nan"
        out.messages.append(f"band {band.band}: no 2-D pixel data")
        return out
    finite = np.isfinite(data)
    if not finite.any():
        out.status = "all_nan"
        out.messages.append(f"band {band.band}: every pixel is NaN")
        return out
    sat_mask = None
    if band.saturation is not None and np.isfinite(band.saturation) and band.saturation > 0:
        with np.errstate(invalid="ignore"):
            sat_mask = data >= (1.0 - cfg.saturation_margin) * band.saturation
        frac = np.count_nonzero(sat_mask) / max(np.count_nonzero(finite), 1)
        if frac >= cfg.saturated_frame_fraction:
            out.status = "saturated"
            out.messages.append(
                f"band {band.band}: {frac:.0%} of valid pixels within "
                f"{cfg.saturation_margin:.0%} of saturation"
            )
            return out
        if not sat_mask.any():
            sat_mask = None
    if instrument.upper() == "JIRAM" and cfg.remove_column_streaks:
        data, streak_cols = remove_column_streaks(data, laplacian_noise(data), sat_mask)
        if streak_cols.size:
            out.messages.append(
                f"band {band.band}: down-track streaks of bright sources removed in "
                f"{streak_cols.size} columns"
            )
    margin = cfg.search_margin_px if cfg.search_margin_px is not None else 3 * sigma + cfg.pointing_error_px
    # the disk: geometry first (unless its pointing is too uncertain to place the limb), else the data's
    limb_d = None
    geometry_limb = backplanes is not None and cfg.pointing_error_px <= MAX_GEOMETRY_LIMB_ERROR_PX
    if backplanes is not None and not geometry_limb:
        out.messages.append(
            f"band {band.band}: pointing uncertain by {cfg.pointing_error_px:.3g} px: the limb is taken from "
            "the data, the geometry only for positions"
        )
        margin = cfg.search_margin_px if cfg.search_margin_px is not None else 3 * sigma + 1.0
    if geometry_limb:
        if backplanes.shape != data.shape:
            out.messages.append(
                f"band {band.band}: backplanes {backplanes.shape} do not match image "
                f"{data.shape}; geometry ignored"
            )
            backplanes = None
        else:
            limb_d = np.asarray(backplanes["limb_distance_px"], dtype=float)
            if not np.any(limb_d > -margin):
                out.status = "no_io"
                out.messages.append(f"band {band.band}: Io is not in the field of view (geometry)")
                return out
    if limb_d is None:
        limb_d = limb_distance_from_data(data, sigma)
        if limb_d is not None:
            out.messages.append(f"band {band.band}: limb fitted from the data")
    # search region: the disk plus a margin (hot spots are on Io); the work is cropped to it
    h1 = max(a[1] for a in annulus_sizes(sigma))
    sl = (slice(0, data.shape[0]), slice(0, data.shape[1]))
    search = None
    if limb_d is not None:
        search_full = limb_d > -margin
        box = _crop_box(search_full, pad=2 * h1 + fit_radius_px(psf) + 4)
        if box is not None:
            sl = box
        search = search_full[sl]
    l0, s0 = sl[0].start, sl[1].start
    sub = data[sl]
    shading = None
    # broad (AO) PSFs: the measured false rate rises with the template (its blurred limb and halo do not
    # match a real halo well enough), so it is for narrow PSFs only
    if geometry_limb and cfg.use_shading and sigma < BROAD_PSF_SIGMA_PX:
        shading = shading_template(data, backplanes, psf, sl)
    sunlit = None  # (the dark-limb band is also for narrow PSFs only: it raised the AO false rate)
    if geometry_limb and sigma < BROAD_PSF_SIGMA_PX:
        sunlit = sunlit_mask(backplanes, sl)
    limb_halfwidth = cfg.limb_halfwidth_px
    if limb_halfwidth is None and geometry_limb:
        # the geometry's limb is uncertain by the pointing: the base band tolerates 0.5 px (measured: no false
        # hot spot on the simulator's sunlit limb), beyond that it widens by the excess
        limb_halfwidth = 1.5 * sigma + 0.5 + max(cfg.pointing_error_px - 0.5, 0.0)
    background_args = dict(
        psf=psf,
        limb_distance_px=None if limb_d is None else limb_d[sl],
        mask=None if sat_mask is None else sat_mask[sl],
        limb_halfwidth_px=limb_halfwidth,
        local_window_px=cfg.local_window_px,
        shading=shading,
        sunlit=sunlit,
        textured_option=cfg.textured_ground_option and shading is not None,
    )
    model = estimate_background(sub, **background_args)
    out.noise_median = model.noise_median
    if keep_model:
        out.model = model
        out.offset = (l0, s0)
    peaks = find_peaks(
        model.snr,
        cfg.threshold_snr,
        search=search,
        sigma_px=sigma,
        saddle_snr=cfg.deblend_saddle_snr,
        max_peaks=cfg.max_sources,
        valid=model.usable,
    )
    if len(peaks) >= cfg.max_sources:
        out.messages.append(f"band {band.band}: detections capped at {cfg.max_sources}")
    if len(peaks) == 0:
        out.status = "no_detections"
        return out
    fit = fit_sources(model, peaks, psf)
    clipped = None if sat_mask is None else sat_mask[sl]

    def place_saturated() -> int:
        return 0 if clipped is None else recentre_saturated(fit, clipped, sub, model.usable, model.noise, psf)

    def spike_test() -> np.ndarray:
        return spike_dchi2(model.residuals[0], model.noise, model.usable, fit.x, fit.y, fit.flux, psf)

    moved = place_saturated()
    dchi = spike_test()
    unconfirmed = np.zeros(len(peaks), bool)
    if cfg.subtract_and_search:
        again = search_again(sub, model, peaks, fit, dchi, psf, cfg, background_args, search)
        peaks, fit, unconfirmed = again.peaks, again.fit, again.unconfirmed
        if again.n_new:  # the first-pass sources were refitted with the new ones as neighbours
            out.messages.append(f"band {band.band}: {again.n_new} sources found after subtracting the others")
            moved = place_saturated()
            dchi = spike_test()
    if moved:
        out.messages.append(
            f"band {band.band}: saturated sources placed at the centroids of their clipped cores"
        )
    nl, ns = data.shape
    near_px = cfg.near_limb_px if cfg.near_limb_px is not None else 2 * sigma + 1
    sfac = spectral_factor(band)
    r_fit = fit_radius_px(psf)
    er = max(1, int(np.ceil(2 * sigma)))
    dup = unresolved_duplicates(fit.x, fit.y, peaks.snr, sigma)  # broad PSFs only (all False for JIRAM)
    for k in range(len(peaks)):
        if dup[k]:
            continue
        x, y = float(fit.x[k] + s0), float(fit.y[k] + l0)
        flags = DetectionFlag.NONE
        if peaks.blended[k]:
            flags |= DetectionFlag.BLENDED
        li, lj = int(np.clip(np.rint(y), 0, nl - 1)), int(np.clip(np.rint(x), 0, ns - 1))
        win = (slice(max(li - r_fit, 0), li + r_fit + 1), slice(max(lj - r_fit, 0), lj + r_fit + 1))
        if sat_mask is not None and sat_mask[win].any():
            flags |= DetectionFlag.SATURATED
        pk = (slice(max(li - 1, 0), li + 2), slice(max(lj - 1, 0), lj + 2))
        if li < er or lj < er or li > nl - 1 - er or lj > ns - 1 - er or not finite[pk].all():
            flags |= DetectionFlag.EDGE
        if unconfirmed[k]:  # gone once the saturated source beside it was subtracted: its wings' residual
            flags |= DetectionFlag.ARTEFACT
        if (dchi[k] > cfg.cosmic_ray_dchi2 and not (flags & DetectionFlag.SATURATED)) or (
            peaks.snr[k] > 20
            and (
                _n_bright(data, model.background, model.noise, li - l0, lj - s0, l0, s0) <= 2
                or _spike_ratio(data, int(peaks.line[k]) + l0, int(peaks.sample[k]) + s0) > 6.0
            )
        ):
            flags |= DetectionFlag.COSMIC_RAY
        d_here = None
        if limb_d is not None:
            d_here = float(limb_d[li, lj])
            if abs(d_here) < near_px:
                flags |= DetectionFlag.NEAR_LIMB
            if not geometry_limb and d_here < 0:
                flags |= DetectionFlag.OFF_DISK
        peak_vals = data[pk][np.isfinite(data[pk])]
        snr = float(fit.flux[k] / fit.flux_err[k]) if fit.flux_err[k] > 0 else float(peaks.snr[k])
        bl, bs = min(max(li - l0, 0), sub.shape[0] - 1), min(max(lj - s0, 0), sub.shape[1] - 1)
        det = Detection(
            band=band.band,
            sample=x,
            line=y + band.line_offset,
            sample_err_px=float(fit.x_err[k]),
            line_err_px=float(fit.y_err[k]),
            snr=snr,
            net_radiance_sum=float(fit.flux[k]),
            net_radiance_sum_err=float(fit.flux_err[k]),
            unit=band.unit,
            background=float(model.background[bl, bs]),
            peak=float(peak_vals.max()) if peak_vals.size else float("nan"),
            n_pixels=int(fit.n_pixels[k]),
            flags=int(flags),
            wavelength_um=band.wavelength_um,
            spectral_radiance_sum_w_m2_sr_um=float(fit.flux[k] * sfac),  # OBSERVED: not ÷ cos(emission)
            extra={
                "mf_snr": float(peaks.snr[k]),
                "chi2_dof": float(fit.chi2_dof[k]),
                "spike_dchi2": float(dchi[k]),
                "fit_converged": bool(fit.converged[k]),
                "limb_distance_px": d_here,
                "psf_core_sigma_px": sigma,
                "line_offset": band.line_offset,
            },
        )
        out.detections.append(det)
    jiram = instrument.upper() == "JIRAM"
    n_art = flag_bright_source_artefacts(
        out.detections,
        sigma,
        column_streaks=jiram,
        ring_radius_px=10.0 if jiram else None,
        rings=not cfg.subtract_and_search,
    )
    if n_art:
        out.messages.append(f"band {band.band}: {n_art} detections near bright sources flagged ARTEFACT")
    n_unc = flag_unconfirmed(out.detections)
    if n_unc:
        out.messages.append(
            f"band {band.band}: {n_unc} detections the PSF fit does not confirm (S/N < {MIN_FIT_SNR:g}) "
            "flagged ARTEFACT"
        )
    if backplanes is not None:
        _add_geometry(out.detections, backplanes, cfg, near_px, sfac)
    if cfg.drop_cosmic_rays:
        n0 = len(out.detections)
        out.detections = [d for d in out.detections if not d.flags & DetectionFlag.COSMIC_RAY]
        if n0 > len(out.detections):
            out.messages.append(f"band {band.band}: {n0 - len(out.detections)} cosmic-ray hits dropped")
    if not out.detections:
        out.status = "no_detections"
    return out


def _add_geometry(
    dets: list[Detection], bp: Backplanes, cfg: DetectConfig, near_px: float, sfac: float
) -> None:
    """Surface positions with errors, and the foreshortening-corrected physical photometry."""
    if not dets:
        return
    xs = np.array([d.sample for d in dets])
    ys = np.array([d.line - _line_offset(d) for d in dets])
    # near the limb (background, truncated PSF) and in blends (neighbours) centroids are pulled: a systematic
    # centroid error, which foreshortening magnifies on the surface
    pulled = int(DetectionFlag.NEAR_LIMB | DetectionFlag.BLENDED)
    limb_sys = np.array(
        [
            max(
                max(cfg.flagged_centroid_sys_px, 0.5 * d.extra.get("psf_core_sigma_px", 0.0))
                if d.flags & pulled
                else 0.0,
                cfg.saturated_centroid_sys_px if d.flags & DetectionFlag.SATURATED else 0.0,
            )
            for d in dets
        ]
    )
    s_err = np.sqrt(np.square([d.sample_err_px for d in dets]) + cfg.pointing_error_px**2 + limb_sys**2)
    l_err = np.sqrt(np.square([d.line_err_px for d in dets]) + cfg.pointing_error_px**2 + limb_sys**2)
    positions = surface_positions(
        bp, xs, ys, s_err, l_err, max_off_disk_px=max(near_px, 3 * cfg.pointing_error_px)
    )
    for det, pos in zip(dets, positions, strict=True):
        if pos is None:
            det.flags |= int(DetectionFlag.OFF_DISK)
            continue
        if not pos.on_disk:
            det.flags |= int(DetectionFlag.OFF_DISK | DetectionFlag.NEAR_LIMB)
        det.lat_deg, det.lon_w_deg = pos.lat_deg, pos.lon_w_deg
        det.lat_err_deg, det.lon_err_deg = pos.lat_err_deg, pos.lon_err_deg
        det.position_err_km = pos.position_err_km
        det.emission_deg, det.incidence_deg, det.phase_deg = (
            pos.emission_deg,
            pos.incidence_deg,
            pos.phase_deg,
        )
        det.range_km, det.pixel_scale_km = pos.range_km, pos.pixel_scale_km
        if np.isfinite(pos.emission_deg) and pos.emission_deg < 90.0:
            inten = float(
                spectral_intensity_gw_um_sr(det.net_radiance_sum * sfac, pos.pixel_scale_km, pos.emission_deg)
            )
            err = float(
                spectral_intensity_gw_um_sr(
                    det.net_radiance_sum_err * sfac, pos.pixel_scale_km, pos.emission_deg
                )
            )
            det.spectral_intensity_gw_um_sr, det.spectral_intensity_err_gw_um_sr = inten, err
            det.spectral_power_gw_um, det.spectral_power_err_gw_um = np.pi * inten, np.pi * err


def _line_offset(det: Detection) -> int:
    return int(det.extra.get("line_offset", 0))


def _pair_distances(
    c1: list[Detection], c2: list[Detection], offset1: int, offset2: int, cfg: DetectConfig
) -> np.ndarray:
    """(len(c1), len(c2)) distance ÷ tolerance of every pair (inf beyond the tolerance): surface distance (km)
    when both have geometry, else pixels."""
    from ioscan.body import IO_MEAN_RADIUS_KM

    def cols(ds: list[Detection], offset: int):
        geo = np.array([d.lat_deg is not None for d in ds])
        lat = np.radians(np.array([d.lat_deg if g else np.nan for d, g in zip(ds, geo, strict=True)], float))
        lon = np.array([d.lon_w_deg if g else np.nan for d, g in zip(ds, geo, strict=True)], float)
        err = np.array([d.position_err_km or 0 for d in ds], float)
        smp = np.array([d.sample for d in ds], float)
        lin = np.array([d.line - offset for d in ds], float)
        return geo, lat, lon, err, smp, lin

    g1, la, lo1, e1, s1, l1 = cols(c1, offset1)
    g2, lb, lo2, e2, s2, l2 = cols(c2, offset2)
    la, e1, s1, l1 = la[:, None], e1[:, None], s1[:, None], l1[:, None]
    dlon = np.radians(lo1[:, None] - lo2)
    with np.errstate(invalid="ignore"):
        h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin(dlon / 2) ** 2
        d_km = 2 * IO_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    tol_km = np.fmax(cfg.match_radius_km, 3 * np.hypot(e1, e2))
    d_px = np.hypot(s1 - s2, l1 - l2)
    geo = g1[:, None] & g2[None]
    d = np.where(geo, d_km, d_px)
    tol = np.where(geo, tol_km, cfg.match_radius_px)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d <= tol, d / tol, np.inf)


def pair_bands(
    dets1: list[Detection], dets2: list[Detection], *, offset1: int, offset2: int, cfg: DetectConfig
) -> list[tuple[Detection, Detection]]:
    """Mutual nearest pairs between two bands: by surface distance when both have geometry, else by pixels."""
    pairs = []
    bad = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT
    c1 = [d for d in dets1 if not d.flags & bad]
    c2 = [d for d in dets2 if not d.flags & bad]
    if not c1 or not c2:
        return pairs
    dist = _pair_distances(c1, c2, offset1, offset2, cfg)
    for i in range(len(c1)):
        j = int(np.argmin(dist[i]))
        if np.isfinite(dist[i, j]) and int(np.argmin(dist[:, j])) == i:
            pairs.append((c1[i], c2[j]))
    return pairs


def _two_band(
    frame: Frame, results: dict[str, BandDetections], cfg: DetectConfig, messages: list[str]
) -> None:
    """Colour temperature, area and power of matched pairs (JIRAM L/M, or two NIRC2 filters)."""
    names = [b for b in frame.bands if results.get(b) and results[b].detections]
    if len(names) < 2:
        return
    try:
        from ioscan.radiometry import band_response, fit_color_temperature
    except ImportError:  # radiometry not available: leave the two-band fields empty
        messages.append("two-band fit skipped: ioscan.radiometry not available")
        return
    names = sorted(names, key=lambda b: frame.bands[b].wavelength_um)[:2]
    b1, b2 = frame.bands[names[0]], frame.bands[names[1]]
    try:
        r1, r2 = band_response(frame.instrument, b1.band), band_response(frame.instrument, b2.band)
    except Exception as exc:  # noqa: BLE001 - unknown filter: no colour temperature, not a failure
        messages.append(f"two-band fit skipped: {exc}")
        return
    for d1, d2 in pair_bands(
        results[names[0]].detections,
        results[names[1]].detections,
        offset1=b1.line_offset,
        offset2=b2.line_offset,
        cfg=cfg,
    ):
        geo = d1.spectral_intensity_gw_um_sr is not None and d2.spectral_intensity_gw_um_sr is not None
        if geo:
            i1, e1 = d1.spectral_intensity_gw_um_sr, d1.spectral_intensity_err_gw_um_sr
            i2, e2 = d2.spectral_intensity_gw_um_sr, d2.spectral_intensity_err_gw_um_sr
        else:  # same camera footprint in both bands: the ratio (hence T) needs no geometry
            i1, e1 = d1.spectral_radiance_sum_w_m2_sr_um, d1.net_radiance_sum_err * spectral_factor(b1)
            i2, e2 = d2.spectral_radiance_sum_w_m2_sr_um, d2.net_radiance_sum_err * spectral_factor(b2)
        fit = fit_color_temperature(r1, r2, i1, e1, i2, e2)
        for d, other in ((d1, d2), (d2, d1)):
            d.extra["pair"] = {"band": other.band, "sample": other.sample, "line": other.line}
            d.extra["color_fit_message"] = fit.message
        if not fit.valid:
            messages.append(
                f"colour fit {d1.band}/{d2.band} at ({d1.sample:.1f}, {d1.line:.1f}): {fit.message}"
            )
            continue
        for d in (d1, d2):
            d.color_temperature_k, d.color_temperature_err_k = fit.temperature_k, fit.temperature_err_k
            if geo:
                d.area_km2, d.area_err_km2 = fit.area_km2, fit.area_err_km2
                d.total_power_gw, d.total_power_err_gw = fit.power_gw, fit.power_err_gw


def detect_frame(
    frame: Frame,
    geometry: dict[str, Backplanes] | None = None,
    *,
    config: DetectConfig | None = None,
    keep_models: bool = False,
) -> FrameDetections:
    """Find and measure the hot spots of every band of a frame.

    Args:
        frame: the frame (any instrument; pixel values in the band's unit).
        geometry: band → backplanes of that band's image (same shape), or None for pixel results only.
        config: detection settings (:class:`DetectConfig`).
        keep_models: keep each band's background/noise/S/N model in ``result.bands[b].model``.

    Returns:
        :class:`FrameDetections` with status "ok", "no_io" (geometry says Io is not in view), "all_nan",
        "saturated" or "no_detections".
    """
    cfg = config or DetectConfig()
    geometry = geometry or {}
    results: dict[str, BandDetections] = {}
    messages: list[str] = []
    for name, band in frame.bands.items():
        try:
            res = detect_band(
                band, geometry.get(name), instrument=frame.instrument, config=cfg, keep_model=keep_models
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:  # one bad band: report it
            res = BandDetections(band=name, status="no_detections", messages=[f"band {name}: failed: {exc}"])
        results[name] = res
        messages.extend(res.messages)
    if len(results) >= 2:
        _two_band(frame, results, cfg, messages)
    detections = [d for r in results.values() for d in r.detections]
    statuses = [r.status for r in results.values()]
    rank = {"ok": 0, "no_detections": 1, "saturated": 2, "no_io": 3, "all_nan": 4}
    status = min(statuses, key=lambda s: rank[s]) if statuses else "all_nan"
    return FrameDetections(
        product_id=frame.product_id,
        detections=detections,
        status=status,
        band_status={k: r.status for k, r in results.items()},
        noise={k: r.noise_median for k, r in results.items()},
        messages=messages,
        bands=results,
    )
