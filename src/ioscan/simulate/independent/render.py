"""Render one scene to JIRAM-like band images with truth (in memory).

Per band: the surface radiance is evaluated on a grid ``supersample`` times finer than pixels over the disk's
bounding box (padded by the PSF reach, so frame edges see the surface beyond them), blurred with the PSF and
averaged to pixels; hot spots are added as pixel-integrated PSFs; then the detector
(:mod:`~ioscan.simulate.independent.detector`). Positions are 0-based, pixel centres at integers, in product
lines (an I1 M-band row r is product line r + 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from ioscan.simulate.independent import geometry as geo
from ioscan.simulate.independent.detector import (
    apply_detector,
    column_gains,
    cosmic_rays,
    expected_product,
    noise_sigma,
)
from ioscan.simulate.independent.psf import bin_pixels
from ioscan.simulate.independent.scene import BAND_FIRST_LINE_M, SceneParams
from ioscan.simulate.independent.sources import draw_hot_spots
from ioscan.simulate.independent.surface import (
    AlbedoMap,
    random_albedo_map,
    reflected_w_m2_sr,
    thermal_w_m2_sr,
)


@dataclass
class RenderedBand:
    """One rendered band.

    Attributes:
        name: "M" or "L".
        image: product pixels, float32, W m⁻² sr⁻¹ (128 × 432).
        background: expected product value without hot spots, noise or cosmic rays (what an ideal background
            estimate would give), float64.
        sigma: true per-pixel noise σ of the background (shot + read), W m⁻² sr⁻¹.
        sunlit: noiseless PSF-blurred reflected sunlight, W m⁻² sr⁻¹.
        on_disk_fraction: fraction of each pixel covered by Io's disk.
        line_offset: product line of the first row (I1 M band: 128).
    """

    name: str
    image: np.ndarray
    background: np.ndarray
    sigma: np.ndarray
    sunlit: np.ndarray
    on_disk_fraction: np.ndarray
    line_offset: int

    @property
    def limb_mask(self) -> np.ndarray:
        """Pixels the limb crosses (partly covered by the disk)."""
        return (self.on_disk_fraction > 0.0) & (self.on_disk_fraction < 1.0)


@dataclass
class RenderedFrame:
    """A rendered frame with its truth.

    Attributes:
        params: the scene.
        bands: band name → :class:`RenderedBand`, in product order.
        truth: one row per hot spot and band: ``band``, ``sample``, ``line`` (product lines), ``flux_w_m2_sr``
            (summed band radiance), ``snr_ideal`` (matched filter with the true PSF and noise), ``saturated``,
            ``kind`` ("population", "pair", "limb"), ``emission_deg``, ``lat_pc_deg``, ``lon_w_deg``,
            ``temperature_k``, ``neighbour_px`` (image distance to the nearest other hot spot; strips of
            different bands are far apart), ``on_limb_pixel``.
        cosmic_rays: one row per hit pixel (``band``, ``line``, ``sample``, ``amplitude_w_m2_sr``,
            ``full_well``).
        illumination: "day" if any in-frame pixel receives reflected sunlight above the read noise, else
            "night".
        albedo: the albedo map used.
    """

    params: SceneParams
    bands: dict[str, RenderedBand]
    truth: pd.DataFrame
    cosmic_rays: pd.DataFrame
    illumination: str
    albedo: AlbedoMap

    @property
    def image(self) -> np.ndarray:
        """The whole product array (I1: L rows 0–127 then M rows 128–255), float32."""
        return np.concatenate([b.image for b in self.bands.values()], axis=0)

    @property
    def saturation_w_m2_sr(self) -> float:
        """Value of a saturated pixel in the product."""
        return self.params.detector.product_saturation_w_m2_sr

    @property
    def limb_pixels(self) -> pd.DataFrame:
        """The limb pixels: ``band``, ``line`` (product lines), ``sample``."""
        rows = [
            pd.DataFrame({"band": b.name, "line": ii + b.line_offset, "sample": jj})
            for b in self.bands.values()
            for ii, jj in [np.nonzero(b.limb_mask)]
        ]
        return pd.concat(rows, ignore_index=True)


def _disk_box(params: SceneParams, first_line_m: int, pad_px: int) -> tuple[int, int, int, int] | None:
    """Pixel box (l0, l1, s0, s1), band rows and samples, half-open, of the disk ∩ the padded band image."""
    v = params.view
    r_px = np.arcsin(min(1.0, max(v.radii_km) / v.range_km)) / geo.IFOV_RAD * 1.02 + 2
    l0 = int(np.floor(v.center_line_px - r_px)) - first_line_m
    l1 = int(np.ceil(v.center_line_px + r_px)) - first_line_m + 1
    s0, s1 = int(np.floor(v.center_sample_px - r_px)), int(np.ceil(v.center_sample_px + r_px)) + 1
    box = (
        max(l0, -pad_px),
        min(l1, geo.N_LINES_BAND + pad_px),
        max(s0, -pad_px),
        min(s1, geo.N_SAMPLES + pad_px),
    )
    return box if box[1] > box[0] and box[3] > box[2] else None


def _albedo_contrast_px(params: SceneParams, albedo: AlbedoMap, box, first_line_m: int) -> np.ndarray:
    """Tapered albedo field f (see :class:`AlbedoMap`) at the pixel centres of a box, band-image pixels.

    Off the disk the field is taken at the ray's closest approach to Io's centre (continuous with the surface
    at the limb); the limb taper makes it 0 there anyway. Evaluated per pixel, not per sub-pixel: the field
    has no structure finer than ~8 px, and this is where the renderer spends its time.
    """
    l0, l1, s0, s1 = box
    sg, lg = np.meshgrid(np.arange(s0, s1, dtype=float), np.arange(l0, l1, dtype=float) + first_line_m)
    hits = geo.intersect(params.view, sg, lg)
    origin_b = params.view.body_to_cam.T @ (-params.view.center_cam_km)
    d_b = geo.pixel_ray(sg, lg) @ params.view.body_to_cam
    closest = origin_b - (d_b @ origin_b)[..., None] * d_b
    pts = np.where(hits.hit[..., None], hits.point_body_km, closest)
    taper = np.clip((hits.cos_emission - 0.2) / 0.2, 0.0, 1.0)
    return albedo.field(pts) * taper


def _surface(params: SceneParams, band: str, albedo: AlbedoMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(surface radiance, sunlit part, on-disk fraction) of one band, PSF-blurred, band-image pixels."""
    shape = (geo.N_LINES_BAND, geo.N_SAMPLES)
    total, sunlit, frac = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    first = BAND_FIRST_LINE_M[band]
    pad = max(params.psf.half_width_px) + 2
    box = _disk_box(params, first, pad)
    if box is None:
        return total, sunlit, frac
    l0, l1, s0, s1 = box
    k = params.supersample
    sub = (np.arange(k) + 0.5) / k - 0.5
    ss = (np.arange(s0, s1)[:, None] + sub).ravel()
    ll = (np.arange(l0, l1)[:, None] + sub).ravel() + first
    sgrid, lgrid = np.meshgrid(ss, ll)
    hits = geo.intersect(params.view, sgrid, lgrid)
    refl = np.zeros(sgrid.shape)
    therm = np.zeros(sgrid.shape)
    h = hits.hit
    if h.any():
        ce, ci = hits.cos_emission[h], hits.cos_incidence[h]
        ci_thermal = np.zeros_like(ci) if params.view.eclipsed else ci  # eclipsed: all at night temperature
        therm[h] = thermal_w_m2_sr(band, ci_thermal, ce, params.photometry)
        if not params.view.eclipsed:
            f_px = _albedo_contrast_px(params, albedo, box, first)
            coords = np.array([lgrid[h] - first - l0, sgrid[h] - s0])
            f = ndimage.map_coordinates(f_px, coords, order=1, mode="nearest")
            alb = np.clip(albedo.mean * (1.0 + albedo.contrast * f), 0.05 * albedo.mean, None)
            refl[h] = reflected_w_m2_sr(band, alb, ci, ce, params.photometry)
    out = []
    for img in (refl + therm, refl):
        out.append(bin_pixels(params.psf.convolve_supersampled(img, k), k))
    out.append(bin_pixels(h.astype(float), k))
    # paste the box's part inside the band image
    a0, a1, b0, b1 = max(l0, 0), min(l1, shape[0]), max(s0, 0), min(s1, shape[1])
    if a1 > a0 and b1 > b0:
        for dst, src in zip((total, sunlit, frac), out, strict=True):
            dst[a0:a1, b0:b1] = src[a0 - l0 : a1 - l0, b0 - s0 : b1 - s0]
    return total, sunlit, frac


def _in_band(spots: pd.DataFrame, band: str) -> pd.DataFrame:
    """The hot spots inside one band's strip of M-coordinate lines."""
    first = BAND_FIRST_LINE_M[band]
    return spots[(spots["line_m"] >= first - 0.5) & (spots["line_m"] < first + geo.N_LINES_BAND - 0.5)]


def _source_truth(
    params: SceneParams, spots: pd.DataFrame, band: str, raw_sky: np.ndarray, sigma: np.ndarray
) -> pd.DataFrame:
    """Truth rows of one band: its sources with ideal S/N and saturation.

    ``raw_sky`` is the noiseless raw signal (gain and column offsets applied, before clipping); ``sigma`` the
    true background noise.
    """
    first = BAND_FIRST_LINE_M[band]
    sel = _in_band(spots, band)
    snr, sat = [], []
    clipped_at = params.detector.saturation_w_m2_sr
    for s, lm, f in zip(sel["sample"], sel["line_m"], sel[f"flux_{band}_w_m2_sr"], strict=True):
        r0, c0, st = params.psf.stamp(float(s), float(lm - first))
        a0, b0 = max(r0, 0), max(c0, 0)
        a1, b1 = min(r0 + st.shape[0], raw_sky.shape[0]), min(c0 + st.shape[1], raw_sky.shape[1])
        p = st[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0]
        snr.append(float(f * np.sqrt(np.sum(p**2 / sigma[a0:a1, b0:b1] ** 2))))
        sat.append(bool(np.any(raw_sky[a0:a1, b0:b1][p > 1e-3] >= clipped_at)))
    return pd.DataFrame(
        {
            "band": band,
            "sample": sel["sample"].to_numpy(),
            "line_m": sel["line_m"].to_numpy(),
            "flux_w_m2_sr": sel[f"flux_{band}_w_m2_sr"].to_numpy(),
            "snr_ideal": np.array(snr, dtype=float),
            "saturated": np.array(sat, dtype=bool),
            "kind": sel["kind"].to_numpy(),
            "emission_deg": sel["emission_deg"].to_numpy(),
            "lat_pc_deg": sel["lat_pc_deg"].to_numpy(),
            "lon_w_deg": sel["lon_w_deg"].to_numpy(),
            "temperature_k": sel["temperature_k"].to_numpy(),
            "neighbour_px": sel["neighbour_px"].to_numpy(),
        }
    )


def faintest_flux_w_m2_sr(params: SceneParams) -> float:
    """Faintest hot-spot flux: ``snr_min`` × read noise × sqrt(1/ΣP²) of a pixel-centred source."""
    _, _, st = params.psf.stamp(0.0, 0.0)
    return params.hot_spots.snr_min * params.detector.read_noise_w_m2_sr / np.sqrt(np.sum(st**2))


def render_scene(params: SceneParams) -> RenderedFrame:
    """Render a scene: band images, truth table, cosmic rays and the day/night flag."""
    rng = np.random.default_rng(params.seed)
    albedo = random_albedo_map(
        rng,
        pixel_scale_km=params.view.pixel_scale_km,
        min_wavelength_px=params.albedo_min_wavelength_px,
        contrast=params.albedo_contrast,
    )
    ref_band = params.bands[-1] if "M" in params.bands else params.bands[0]
    spots = draw_hot_spots(
        rng,
        params.view,
        params.hot_spots,
        strips=params.strips(),
        f_min=faintest_flux_w_m2_sr(params),
        ref_band=ref_band,
    )
    det = params.detector
    bands: dict[str, RenderedBand] = {}
    truths, crs = [], []
    day = False
    gains = column_gains(rng, det, geo.N_SAMPLES)  # one detector: L and M rows share their columns
    offsets = rng.normal(0.0, det.column_offset_rms_w_m2_sr, geo.N_SAMPLES)
    for i, band in enumerate(params.bands):
        offset = i * geo.N_LINES_BAND
        surface, sunlit, frac = _surface(params, band, albedo)
        sources = np.zeros_like(surface)
        sel = _in_band(spots, band)
        params.psf.add_sources(
            sources, sel["sample"], sel["line_m"] - BAND_FIRST_LINE_M[band], sel[f"flux_{band}_w_m2_sr"]
        )
        hits = cosmic_rays(rng, det, surface.shape, line_offset=offset)
        image = apply_detector(rng, surface + sources, det, gains, offsets, hits, line_offset=offset)
        sigma = noise_sigma(surface, gains, det)
        raw_sky = (surface + sources) * gains[None, :] + offsets[None, :] + det.bg_subtracted_w_m2_sr
        t = _source_truth(params, spots, band, raw_sky, sigma)
        t["line"] = t.pop("line_m") - BAND_FIRST_LINE_M[band] + offset
        truths.append(t)
        crs.append(hits.assign(band=band))
        bands[band] = RenderedBand(
            name=band,
            image=image.astype(np.float32),
            background=expected_product(surface, gains, offsets, det),
            sigma=sigma,
            sunlit=sunlit,
            on_disk_fraction=frac,
            line_offset=offset,
        )
        day |= bool(sunlit.max() > det.read_noise_w_m2_sr)
    truth = pd.concat(truths, ignore_index=True)
    truth["on_limb_pixel"] = [
        bool(bands[b].limb_mask[int(round(ln)) - bands[b].line_offset, int(round(s))])
        for b, s, ln in zip(truth["band"], truth["sample"], truth["line"], strict=True)
    ]
    cols = ["band", "sample", "line", "flux_w_m2_sr", "snr_ideal", "saturated", "kind", "emission_deg"]
    truth = truth[cols + [c for c in truth.columns if c not in cols]]
    return RenderedFrame(
        params=params,
        bands=bands,
        truth=truth,
        cosmic_rays=pd.concat(crs, ignore_index=True)[
            ["band", "hit", "line", "sample", "amplitude_w_m2_sr", "full_well"]
        ],
        illumination="day" if day else "night",
        albedo=albedo,
    )
