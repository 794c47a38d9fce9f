"""Render JIRAM imager frames (I1 = L+M, I2 = M, I3 = L) from a camera pose, a surface and hot spots.

Each band is its own 432 × 128 camera with its own pose (as the separate SPICE frames
JUNO_JIRAM_I_LBAND / _MBAND). Pixel values are band radiance, W m⁻² sr⁻¹ (JIRAM SIS §4.2).

Rendering of one band:

1. backplanes of the pose (centre of each pixel) → surface band radiance (:mod:`scene`), convolved with the
   PSF;
2. hot spots projected with the same pose, at sub-pixel positions; each adds a PSF patch holding
   I_band · cos e / (range · IFOV)² (so Σ pixels × footprint² = I_band · cos e exactly, the energy check);
3. detector (:class:`JiramDetector`, optional): down-track column reflections, the residual flat field (a
   pixel-to-pixel map fixed per detector, 0.4 % rms, and a smooth column response drawn per image, 0.3 % rms;
   an assumption, :mod:`ioscan.simulate.flatfield`), cosmic-ray hits, shot and read noise in electrons,
   full-well saturation (clipped), then float32.

Detector numbers are a plausible model, not a calibration: saturation radiance = full_well /
(responsivity × exposure), e.g. 2 W m⁻² sr⁻¹ at 0.1 s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.pose import CameraPose, project_points
from ioscan.instruments import PixelAxes, jiram
from ioscan.radiometry.bands import band_response
from ioscan.simulate.flatfield import FlatField
from ioscan.simulate.psf import GaussianMixturePsf, jiram_psf
from ioscan.simulate.scene import SurfaceModel, hot_spot_band_intensity_w_sr, surface_radiance_image

KM_TO_M = 1e3


@dataclass(frozen=True)
class JiramDetector:
    """Detector model. Responsivity in electrons per (W m⁻² sr⁻¹) per second of exposure; ``flat``: the
    residual flat field (:class:`~ioscan.simulate.flatfield.FlatField`; ``FlatField(0, 0)`` for a perfect
    one)."""

    full_well_e: float = 2.0e6
    read_noise_e: float = 150.0
    responsivity_e: dict = field(default_factory=lambda: {"L": 1.0e7, "M": 1.0e7})
    reflection_fraction: float = 0.003
    reflection_length_lines: float = 40.0
    cosmic_base: float = 1.0
    cosmic_rate_per_s: float = 30.0
    flat: FlatField = field(default_factory=FlatField)

    def gain(self, band: str, exposure_s: float) -> float:
        """Electrons per unit band radiance for this exposure."""
        return self.responsivity_e[band] * exposure_s

    def saturation_w_m2_sr(self, band: str, exposure_s: float) -> float:
        """Band radiance at full well, W m⁻² sr⁻¹."""
        return self.full_well_e / self.gain(band, exposure_s)

    def noise_sigma_w_m2_sr(self, band: str, exposure_s: float, radiance_w_m2_sr) -> np.ndarray:
        """1-σ noise for a given true radiance (shot + read), W m⁻² sr⁻¹."""
        g = self.gain(band, exposure_s)
        e = np.clip(np.asarray(radiance_w_m2_sr, float) * g, 0.0, self.full_well_e)
        return np.sqrt(self.read_noise_e**2 + e) / g

    def texture_sigma_w_m2_sr(self, band: str, exposure_s: float, radiance_w_m2_sr) -> np.ndarray:
        """1-σ pixel-to-pixel scatter of a uniform scene of the given radiance: the noise and the flat field's
        pixel part (which a point source's matched filter meets as it meets noise), W m⁻² sr⁻¹."""
        r = np.clip(np.asarray(radiance_w_m2_sr, float), 0.0, None)
        return np.hypot(self.noise_sigma_w_m2_sr(band, exposure_s, r), self.flat.pixel_rms * r)

    def response(
        self, band: str, shape: tuple[int, int], rng: np.random.Generator | None = None
    ) -> np.ndarray | None:
        """The residual flat field of ``band``'s detector rows for an image of ``shape`` (None: perfect); the
        column response drawn from a child of ``rng`` (without it: the detector's fixed one)."""
        if self.flat.perfect:
            return None
        first = jiram.BANDS[band].first_detector_line - 1 if band in jiram.BANDS else 0
        return self.flat.response(shape, first, rng)


@dataclass
class BandRender:
    """One rendered band: noiseless and detected images plus per-hot-spot truth."""

    band: str
    noiseless: np.ndarray
    image: np.ndarray
    saturation_w_m2_sr: float
    spots: pd.DataFrame
    cosmic_rays: list = field(default_factory=list)


def jiram_band_camera(ifov_rad: float = jiram.IFOV_RAD, axes: PixelAxes | None = None) -> FrameCamera:
    """A 432 × 128 band camera with the boresight at its centre and JIRAM's pixel axes (for poses of the band
    frames JUNO_JIRAM_I_LBAND / _MBAND not taken from SPICE); ``axes`` replaces the declared pixel axes (a
    simulated world whose true convention differs from ioscan's declaration)."""
    layout = jiram.DETECTORS[jiram.M_BAND.spice_frame]
    if axes is not None:
        layout = dataclasses.replace(layout, axes=axes)
    return FrameCamera.from_layout(layout, ifov_rad)


def project_hot_spots(camera: FrameCamera, pose: CameraPose, state: pd.DataFrame) -> pd.DataFrame:
    """Sample/line (0-based), visibility, emission angle and range of every hot spot for a pose."""
    if {"x_km", "y_km", "z_km"} <= set(state.columns):  # precomputed by HotSpotPopulation.state_at
        pts = state[["x_km", "y_km", "z_km"]].to_numpy(float)
    else:
        pts = iobody.surface_point_from_lat_pg(
            state["lat_deg"].to_numpy(float), state["lon_w_deg"].to_numpy(float)
        )
    sample, line, visible = project_points(camera, pose, pts)
    to_obs = pose.observer_km - pts
    rng = np.linalg.norm(to_obs, axis=-1)
    cos_e = np.sum(iobody.surface_normal(pts) * to_obs, axis=-1) / rng
    in_frame = (
        visible
        & (sample > -0.5)
        & (sample < camera.n_samples - 0.5)
        & (line > -0.5)
        & (line < camera.n_lines - 0.5)
    )
    return pd.DataFrame(
        {
            "id": state["id"].to_numpy(),
            "sample": sample,
            "line": line,
            "visible": visible,
            "in_frame": in_frame,
            "emission_deg": np.degrees(np.arccos(np.clip(cos_e, -1, 1))),
            "range_km": rng,
            "cos_e": cos_e,
        }
    )


def render_band_noiseless(
    band: str,
    camera: FrameCamera,
    pose: CameraPose,
    state: pd.DataFrame,
    *,
    surface: SurfaceModel | None = None,
    psf: GaussianMixturePsf | None = None,
    include_surface: bool = True,
    sunlight_fraction: float = 1.0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Noiseless band radiance image (W m⁻² sr⁻¹) and per-spot truth for one JIRAM band.

    Spot truth columns: id, sample, line, visible, in_frame, emission_deg, range_km, band_intensity_w_sr
    (at normal view), observed_intensity_w_sr (× cos e), spectral_intensity_gw_um_sr (observed ÷ bandwidth,
    GW µm⁻¹ sr⁻¹), flux_px (Σ pixel radiance it adds, W m⁻² sr⁻¹ · px). ``sunlight_fraction``: the share of
    the Sun's disk Jupiter leaves visible (0 in eclipse: no reflected light).
    """
    resp = band_response("JIRAM", band)
    psf = psf or jiram_psf()
    surface = surface or SurfaceModel()
    if include_surface:
        img = psf.convolve(surface_radiance_image(resp, camera, pose, surface, sunlight_fraction))
    else:
        img = np.zeros((camera.n_lines, camera.n_samples))
    spots = project_hot_spots(camera, pose, state)
    intensity = hot_spot_band_intensity_w_sr(resp, state)
    observed = np.where(spots.visible, intensity * np.clip(spots.cos_e, 0, 1), 0.0)
    footprint_m = spots.range_km.to_numpy() * KM_TO_M * camera.ifov_rad
    flux = observed / footprint_m**2
    spots["band_intensity_w_sr"] = intensity
    spots["observed_intensity_w_sr"] = observed
    spots["spectral_intensity_gw_um_sr"] = observed / resp.bandwidth_um / 1e9
    spots["flux_px"] = flux
    near = spots.visible.to_numpy() & (
        spots["sample"].between(-psf.radius_px, camera.n_samples + psf.radius_px)
        & spots["line"].between(-psf.radius_px, camera.n_lines + psf.radius_px)
    )
    psf.add_point_sources(img, spots["sample"][near], spots["line"][near], flux[near.to_numpy()])
    return img, spots


def column_reflections(image: np.ndarray, fraction: float, length_lines: float) -> np.ndarray:
    """Down-track ghost: each pixel spreads ``fraction`` of its flux up and down its column (two-sided
    exponential of e-folding ``length_lines``, normalised on an infinite column; the part beyond the frame
    edges is lost). Returns the ghost image (to add). Recursive filters, O(pixels)."""
    from scipy.signal import lfilter

    q = float(np.exp(-1.0 / length_lines))
    x = np.asarray(image, float)
    down = lfilter([0.0, 1.0], [1.0, -q], x, axis=0)  # Σ_{k≥1} q^(k-1) x[n-k]
    up = lfilter([0.0, 1.0], [1.0, -q], x[::-1], axis=0)[::-1]
    return (down + up) * (fraction * (1.0 - q) / 2.0)


def apply_detector(
    band: str,
    noiseless: np.ndarray,
    exposure_s: float,
    detector: JiramDetector,
    rng: np.random.Generator,
    *,
    noise: bool = True,
    artefacts: bool = True,
) -> tuple[np.ndarray, list]:
    """Detected float32 image: reflections and cosmic rays (``artefacts``), the residual flat field (always,
    :meth:`JiramDetector.response`), shot + read noise (``noise``), full-well clipping (always). Returns
    (image, cosmic-ray list of (line, sample, electrons))."""
    g = detector.gain(band, exposure_s)
    signal = noiseless.copy()
    hits: list = []
    if artefacts:
        signal += column_reflections(
            noiseless, detector.reflection_fraction, detector.reflection_length_lines
        )
    response = detector.response(band, signal.shape, rng)
    if response is not None:
        signal *= response
    electrons = np.clip(signal, 0.0, None) * g
    if noise:
        electrons = electrons + rng.standard_normal(electrons.shape) * np.sqrt(
            detector.read_noise_e**2 + electrons
        )
    if artefacts:
        n_hit = rng.poisson(detector.cosmic_base + detector.cosmic_rate_per_s * exposure_s)
        nl, ns = electrons.shape
        for _ in range(n_hit):
            ln, s = int(rng.integers(0, nl)), int(rng.integers(0, ns))
            e = float(10 ** rng.uniform(4.5, 6.3))
            electrons[ln, s] += e
            if rng.random() < 0.5:  # a 2-pixel track
                dl, ds = (0, 1) if rng.random() < 0.5 else (1, 0)
                if ln + dl < nl and s + ds < ns:
                    electrons[ln + dl, s + ds] += 0.5 * e
            hits.append((ln, s, e))
    electrons = np.minimum(electrons, detector.full_well_e)
    return (electrons / g).astype(np.float32), hits


def render_band(
    band: str,
    camera: FrameCamera,
    pose: CameraPose,
    state: pd.DataFrame,
    *,
    exposure_s: float,
    rng: np.random.Generator,
    detector: JiramDetector | None = None,
    surface: SurfaceModel | None = None,
    psf: GaussianMixturePsf | None = None,
    noise: bool = True,
    artefacts: bool = True,
    sunlight_fraction: float = 1.0,
) -> BandRender:
    """Noiseless render + detector for one band; spot truth gains :func:`spot_metrics` columns
    (``noise_sigma`` and ``peak`` in W m⁻² sr⁻¹). ``sunlight_fraction``: see :func:`render_band_noiseless`."""
    detector = detector or JiramDetector()
    psf = psf or jiram_psf()
    noiseless, spots = render_band_noiseless(
        band, camera, pose, state, surface=surface, psf=psf, sunlight_fraction=sunlight_fraction
    )
    image, hits = apply_detector(band, noiseless, exposure_s, detector, rng, noise=noise, artefacts=artefacts)
    sat = detector.saturation_w_m2_sr(band, exposure_s)
    spot_metrics(spots, noiseless, psf, lambda bg: detector.texture_sigma_w_m2_sr(band, exposure_s, bg), sat)
    return BandRender(band, noiseless, image, sat, spots, hits)


def spot_metrics(
    spots: pd.DataFrame,
    noiseless: np.ndarray,
    psf: GaussianMixturePsf,
    sigma_of_background,
    saturation: float,
) -> pd.DataFrame:
    """Add per-spot ``noise_sigma`` (noise at the background level under the spot, image units), ``snr``
    (matched filter: √Σ(spot pixels)² / σ), ``peak`` (noiseless maximum near the spot) and ``saturated``
    (peak ≥ 95 % of saturation) to ``spots`` (which needs sample, line, in_frame, flux_px)."""
    n = len(spots)
    snr, sigma, peak, saturated = np.zeros(n), np.full(n, np.nan), np.zeros(n), np.zeros(n, bool)
    nl, ns = noiseless.shape
    idx = np.flatnonzero(spots["in_frame"].to_numpy())
    if idx.size:
        s_arr, l_arr = spots["sample"].to_numpy()[idx], spots["line"].to_numpy()[idx]
        f_arr = spots["flux_px"].to_numpy()[idx]
        l0s, s0s, ps = psf.patches(s_arr, l_arr)
        grid = np.arange(ps.shape[1])
        li, si = l0s[:, None] + grid, s0s[:, None] + grid
        inside = ((li >= 0) & (li < nl))[:, :, None] & ((si >= 0) & (si < ns))[:, None, :]
        part2 = np.where(inside, (f_arr[:, None, None] * ps) ** 2, 0.0)
        window = noiseless[np.clip(li, 0, nl - 1)[:, :, None], np.clip(si, 0, ns - 1)[:, None, :]]
        lc = np.clip(np.round(l_arr).astype(int), 0, nl - 1)
        sc = np.clip(np.round(s_arr).astype(int), 0, ns - 1)
        k = np.arange(idx.size)
        bg = noiseless[lc, sc] - f_arr * ps[k, lc - l0s, sc - s0s]
        sig = np.asarray(sigma_of_background(np.maximum(bg, 0.0)), float)
        sigma[idx] = sig
        snr[idx] = np.sqrt(part2.sum(axis=(1, 2))) / sig
        peak[idx] = np.where(inside, window, -np.inf).max(axis=(1, 2))
        saturated[idx] = peak[idx] >= 0.95 * saturation
    spots["noise_sigma"] = sigma
    spots["snr"] = snr
    spots["peak"] = peak
    spots["saturated"] = saturated
    return spots


def assemble_mode(mode: str, bands: dict[str, BandRender]) -> np.ndarray:
    """Product array of a mode: I1 = L rows 0–127 over M rows 128–255; I2 = M; I3 = L (float32)."""
    names = jiram.MODES[mode]
    return np.concatenate([bands[b].image for b in names], axis=0).astype(np.float32, copy=False)
