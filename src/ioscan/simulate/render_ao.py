"""Render ground-based adaptive-optics frames of Io (Keck NIRC2-like narrow camera).

Pixel values are band-mean **spectral** radiance per pixel solid angle, W m⁻² sr⁻¹ µm⁻¹
(docs/architecture.md): a pixel holding flux F (W m⁻² µm⁻¹) has value F / Ω_pix, so
Σ pixels × (range · plate scale)² = spectral intensity.

* Io rendered on a window around the disk (fast for 1024² frames), convolved with an AO PSF
  (:func:`ioscan.simulate.psf.ao_psf`: diffraction core with weight = Strehl + seeing halo);
* hot spots as PSF patches of I_band · cos e / bandwidth / footprint²;
* the residual flat field (:mod:`ioscan.simulate.flatfield`, fixed per detector: 0.5 % rms pixel to pixel,
  no column structure — an assumption, no NIRC2 flat-field accuracy is shipped) on Io's light; the sky is
  taken as removed with sky frames that share the flat, so only Io and its hot spots carry it;
* sky + telescope thermal background (surface brightness in mag arcsec⁻² over a Vega zero point), removed
  by "sky subtraction" except for a small residual, with its photon noise; read noise; full-well clip.

The photometric numbers (zero points, sky brightness, throughput) are approximate published-order values, a
model rather than a calibration of NIRC2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.pose import CameraPose
from ioscan.instruments import nirc2
from ioscan.radiometry.bands import band_response
from ioscan.simulate.flatfield import FlatField
from ioscan.simulate.psf import ARCSEC_RAD, GaussianMixturePsf, ao_psf
from ioscan.simulate.render_jiram import project_hot_spots, spot_metrics
from ioscan.simulate.scene import SurfaceModel, hot_spot_band_intensity_w_sr, surface_radiance_image

H_C_J_UM = 6.62607015e-34 * 2.99792458e8 * 1e6  # h·c in J µm
#: Vega spectral flux density, W m⁻² µm⁻¹ (approximate, per filter)
VEGA_ZERO_POINT_W_M2_UM = {
    "Kc": 4.1e-10,
    "H2O": 1.1e-10,
    "PAH": 8.0e-11,
    "Lp": 5.1e-11,
    "BrA_cont": 4.4e-11,
    "BrA": 4.2e-11,
    "Ms": 2.2e-11,
}
#: sky + telescope background, mag arcsec⁻² (Maunakea order of magnitude)
SKY_MAG_ARCSEC2 = {"Kc": 13.0, "H2O": 6.0, "PAH": 4.5, "Lp": 3.0, "BrA_cont": 2.6, "BrA": 2.6, "Ms": 0.5}


@dataclass(frozen=True)
class AoDetector:
    """Telescope + detector model for photon statistics; ``flat``: the residual flat field."""

    collecting_area_m2: float = 70.0
    throughput: float = 0.3
    read_noise_e: float = 50.0
    full_well_e: float = 1.0e7  # summed over coadds
    residual_sky_fraction: float = 0.002
    strehl: dict = field(default_factory=lambda: {"Kc": 0.3, "PAH": 0.4, "Lp": 0.5, "Ms": 0.6})
    halo_fwhm_arcsec: float = 0.35
    flat: FlatField = field(default_factory=lambda: FlatField(pixel_rms=0.005, column_rms=0.0, seed=27182))

    def sky_spectral_radiance(self, filter_name: str) -> float:
        """Background surface brightness as spectral radiance, W m⁻² sr⁻¹ µm⁻¹."""
        f = VEGA_ZERO_POINT_W_M2_UM[filter_name] * 10 ** (-0.4 * SKY_MAG_ARCSEC2[filter_name])
        return f / ARCSEC_RAD**2

    def electrons_per_unit(self, filter_name: str, plate_scale_arcsec: float, exposure_s: float) -> float:
        """Detected electrons per unit spectral radiance (W m⁻² sr⁻¹ µm⁻¹) in one pixel."""
        filt = nirc2.FILTERS[filter_name]
        omega = (plate_scale_arcsec * ARCSEC_RAD) ** 2
        photon_j = H_C_J_UM / filt.center_um
        return omega * filt.bandwidth_um * self.collecting_area_m2 * self.throughput * exposure_s / photon_j


@dataclass
class AoRender:
    """A rendered ground-based frame."""

    filter_name: str
    noiseless: np.ndarray
    image: np.ndarray
    saturation: float
    noise_sigma_sky: float
    spots: pd.DataFrame


def _disk_window(camera: FrameCamera, pose: CameraPose, margin_px: int) -> tuple[int, int, int, int]:
    """(l0, l1, s0, s1) bounding box of Io's disk plus ``margin_px``, clipped to the frame."""
    from ioscan.body import IO

    centre = np.zeros((1, 3))
    rel = centre - pose.observer_km
    s, ln, _ = camera.project(rel @ pose.inst_to_body)
    rng = float(np.linalg.norm(pose.observer_km))
    r_px = IO.a_km / rng / camera.ifov_rad + 2
    s0 = int(max(np.floor(s[0] - r_px - margin_px), 0))
    s1 = int(min(np.ceil(s[0] + r_px + margin_px) + 1, camera.n_samples))
    l0 = int(max(np.floor(ln[0] - r_px - margin_px), 0))
    l1 = int(min(np.ceil(ln[0] + r_px + margin_px) + 1, camera.n_lines))
    return l0, max(l1, l0), s0, max(s1, s0)


def render_ao(
    filter_name: str,
    camera: FrameCamera,
    pose: CameraPose,
    state: pd.DataFrame,
    *,
    exposure_s: float,
    rng: np.random.Generator,
    detector: AoDetector | None = None,
    surface: SurfaceModel | None = None,
    psf: GaussianMixturePsf | None = None,
    noise: bool = True,
    sunlight_fraction: float = 1.0,
) -> AoRender:
    """Render one AO frame in spectral radiance (W m⁻² sr⁻¹ µm⁻¹), noiseless and detected (float32);
    ``sunlight_fraction``: the share of the Sun's disk Jupiter leaves visible (0: Io eclipsed)."""
    detector = detector or AoDetector()
    surface = surface or SurfaceModel()
    resp = band_response("NIRC2", filter_name)
    plate = camera.ifov_rad / ARCSEC_RAD
    psf = psf or ao_psf(
        resp.center_um,
        plate,
        strehl=detector.strehl.get(filter_name, 0.4),
        halo_fwhm_arcsec=detector.halo_fwhm_arcsec,
    )
    img = np.zeros((camera.n_lines, camera.n_samples))
    l0, l1, s0, s1 = _disk_window(camera, pose, psf.radius_px)
    if l1 > l0 and s1 > s0:
        sub = FrameCamera(
            n_samples=s1 - s0,
            n_lines=l1 - l0,
            ifov_rad=camera.ifov_rad,
            center_sample=camera.center_sample - s0,
            center_line=camera.center_line - l0,
            sample_axis=camera.sample_axis,
            line_axis=camera.line_axis,
            boresight=camera.boresight,
            twist_deg=camera.twist_deg,
        )
        radiance = surface_radiance_image(resp, sub, pose, surface, sunlight_fraction)
        img[l0:l1, s0:s1] = psf.convolve(radiance) / resp.bandwidth_um
    spots = project_hot_spots(camera, pose, state)
    intensity = hot_spot_band_intensity_w_sr(resp, state)
    observed = np.where(spots.visible, intensity * np.clip(spots.cos_e, 0, 1), 0.0)
    footprint_m = spots.range_km.to_numpy() * 1e3 * camera.ifov_rad
    flux = observed / resp.bandwidth_um / footprint_m**2
    spots["band_intensity_w_sr"] = intensity
    spots["observed_intensity_w_sr"] = observed
    spots["spectral_intensity_gw_um_sr"] = observed / resp.bandwidth_um / 1e9
    spots["flux_px"] = flux
    psf.add_point_sources(
        img, spots["sample"][spots.visible], spots["line"][spots.visible], flux[spots.visible.to_numpy()]
    )
    g = detector.electrons_per_unit(filter_name, plate, exposure_s)
    sky = detector.sky_spectral_radiance(filter_name)
    sat = detector.full_well_e / g - sky
    read_var = detector.read_noise_e**2
    sigma_sky = float(np.sqrt(read_var + sky * g) / g)
    pixel_rms = detector.flat.pixel_rms
    spot_metrics(
        spots, img, psf, lambda bg: np.hypot(np.sqrt(read_var + (bg + sky) * g) / g, pixel_rms * bg), sat
    )
    seen = img if detector.flat.perfect else img * detector.flat.response(img.shape, 0, rng)
    electrons = (seen + sky) * g
    if noise:
        electrons = electrons + rng.standard_normal(img.shape) * np.sqrt(read_var + electrons)
    electrons = np.minimum(electrons, detector.full_well_e)
    detected = electrons / g - sky * (1.0 - detector.residual_sky_fraction)
    return AoRender(filter_name, img, detected.astype(np.float32), float(sat), sigma_sky, spots)
