"""Io's surface for the independent renderer: smooth albedo, Minnaert reflection, cold thermal emission.

Radiometry (all band radiance, W m⁻² sr⁻¹, integrated over the filter with a flat response):

* sunlight: the Sun as a 5772 K blackbody of radius 695,700 km; at 5.2 AU the band irradiance is
  0.087 W m⁻² in M (4.5375–5.035 µm) and 0.161 W m⁻² in L (3.32–3.60 µm);
* reflection: ``L = A · F / π · cos(i)^k · max(cos e, 0.2)^(k−1)`` (Minnaert; k = 1 is Lambert) with a
  normal albedo A ≈ 0.3–0.6, so the sub-solar M radiance is ~0.01 W m⁻² sr⁻¹;
* thermal: emissivity 0.9 at a temperature T = T_night + (T_subsolar − T_night)·cos(i)^¼ (90 K, 125 K):
  ≤ 2e-6 W m⁻² sr⁻¹ in M, i.e. essentially zero, as on the real night side.

The albedo is a sum of random 3-D plane waves evaluated on the body-fixed surface: a plane wave of wavelength
λ has a surface wavelength ≥ λ everywhere, so choosing λ ≥ ``min_wavelength_px`` pixel footprints keeps the
image free of structure finer than λ·cos(e). Its contrast is tapered to zero towards the limb (cos e 0.4 →
0.2) where foreshortening would compress it. No structure at the PSF scale: the point of this renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H_J_S = 6.62607015e-34
C_M_S = 2.99792458e8
K_J_K = 1.380649e-23
SUN_T_K = 5772.0
SUN_RADIUS_KM = 695_700.0
AU_KM = 1.495978707e8
#: flat-topped band limits, µm (JIRAM SIS)
BAND_LIMITS_UM: dict[str, tuple[float, float]] = {"L": (3.32, 3.60), "M": (4.5375, 5.035)}
#: floor of cos(emission) in the Minnaert limb factor (Minnaert's law fails at the limb)
MINNAERT_MIN_COS_E = 0.2


def planck_w_m2_sr_um(wavelength_um, temperature_k) -> np.ndarray:
    """Blackbody spectral radiance, W m⁻² sr⁻¹ µm⁻¹."""
    lam = np.asarray(wavelength_um, dtype=float) * 1e-6
    t = np.asarray(temperature_k, dtype=float)
    x = H_J_S * C_M_S / (lam * K_J_K * t)
    with np.errstate(over="ignore"):
        return 2 * H_J_S * C_M_S**2 / lam**5 / np.expm1(x) * 1e-6


def band_planck_w_m2_sr(band: str, temperature_k) -> np.ndarray:
    """Blackbody band radiance over the flat band, W m⁻² sr⁻¹ (broadcasts over temperature)."""
    lo, hi = BAND_LIMITS_UM[band]
    lam = np.linspace(lo, hi, 64)
    t = np.asarray(temperature_k, dtype=float)
    return np.trapezoid(planck_w_m2_sr_um(lam, t[..., None]), lam, axis=-1)


def solar_band_irradiance_w_m2(band: str, heliocentric_au: float) -> float:
    """Solar irradiance integrated over the band at ``heliocentric_au``, W m⁻²."""
    dilution = (SUN_RADIUS_KM / (heliocentric_au * AU_KM)) ** 2
    return float(np.pi * band_planck_w_m2_sr(band, SUN_T_K) * dilution)


@dataclass(frozen=True)
class AlbedoMap:
    """Smooth random albedo on Io: ``mean · (1 + contrast · f)`` with f a unit-variance plane-wave sum.

    Attributes:
        mean: mean normal albedo (same in every band; ``band_factor`` of the scene scales it).
        contrast: relative standard deviation.
        wavevectors_rad_km: (n, 3) wave vectors, rad/km (|k| = 2π/λ).
        phases_rad: (n,) phases.
        amplitudes: (n,) weights.
    """

    mean: float
    contrast: float
    wavevectors_rad_km: np.ndarray
    phases_rad: np.ndarray
    amplitudes: np.ndarray

    @property
    def min_wavelength_km(self) -> float:
        """Shortest plane-wave wavelength, km."""
        return float(2 * np.pi / np.max(np.linalg.norm(self.wavevectors_rad_km, axis=1)))

    def field(self, points_body_km: np.ndarray) -> np.ndarray:
        """Unit-variance random field at body-fixed points (..., 3)."""
        arg = points_body_km @ self.wavevectors_rad_km.T + self.phases_rad
        norm = np.sqrt(np.sum(self.amplitudes**2) / 2.0)
        return (np.cos(arg) @ self.amplitudes) / norm

    def albedo(self, points_body_km: np.ndarray, cos_emission: np.ndarray | None = None) -> np.ndarray:
        """Albedo at body-fixed points; the contrast tapers to 0 between cos e = 0.4 and 0.2 when given."""
        f = self.field(points_body_km)
        if cos_emission is not None:
            f = f * np.clip((np.asarray(cos_emission) - 0.2) / 0.2, 0.0, 1.0)
        return np.clip(self.mean * (1.0 + self.contrast * f), 0.05 * self.mean, None)


def random_albedo_map(
    rng: np.random.Generator,
    *,
    pixel_scale_km: float,
    min_wavelength_px: float = 20.0,
    n_waves: int = 40,
    mean: float | None = None,
    contrast: float | None = None,
) -> AlbedoMap:
    """A random albedo map whose shortest wavelength is ``min_wavelength_px`` pixel footprints.

    Wavelengths are log-uniform from that minimum to 8× it (at least 1,500 km), weights ∝ √λ (redder
    structure dominates), directions isotropic.
    """
    lam_min = min_wavelength_px * pixel_scale_km
    lam_max = max(8 * lam_min, 1500.0)
    lam = np.exp(rng.uniform(np.log(lam_min), np.log(lam_max), n_waves))
    u = rng.normal(size=(n_waves, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return AlbedoMap(
        mean=float(rng.uniform(0.3, 0.6) if mean is None else mean),
        contrast=float(rng.uniform(0.1, 0.3) if contrast is None else contrast),
        wavevectors_rad_km=u * (2 * np.pi / lam)[:, None],
        phases_rad=rng.uniform(0, 2 * np.pi, n_waves),
        amplitudes=np.sqrt(lam / lam_min),
    )


@dataclass(frozen=True)
class Photometry:
    """Surface photometric model of one frame.

    Attributes:
        minnaert_k: Minnaert exponent (1 = Lambert).
        heliocentric_au: Sun–Io distance, AU.
        band_albedo_factor: band → factor on the albedo map (Io is darker at L than at M here).
        t_night_k, t_subsolar_k: thermal model temperatures, K.
        emissivity: thermal emissivity.
    """

    minnaert_k: float = 1.0
    heliocentric_au: float = 5.2
    band_albedo_factor: tuple[tuple[str, float], ...] = (("M", 1.0), ("L", 0.6))
    t_night_k: float = 90.0
    t_subsolar_k: float = 125.0
    emissivity: float = 0.9

    def albedo_factor(self, band: str) -> float:
        return dict(self.band_albedo_factor)[band]


def reflected_w_m2_sr(
    band: str, albedo: np.ndarray, cos_i: np.ndarray, cos_e: np.ndarray, phot: Photometry
) -> np.ndarray:
    """Reflected sunlight, band radiance W m⁻² sr⁻¹ (0 where unlit or not visible).

    The Minnaert limb factor cos(e)^(k−1) diverges at the limb for k < 1; cos e is floored at
    :data:`MINNAERT_MIN_COS_E` in it (at most 2.2× brightening for k = 0.5).
    """
    f_sun = solar_band_irradiance_w_m2(band, phot.heliocentric_au)
    ci = np.clip(cos_i, 0.0, None)
    ce = np.clip(cos_e, MINNAERT_MIN_COS_E, None)
    k = phot.minnaert_k
    shade = ci**k * ce ** (k - 1.0)
    return np.where((cos_i > 0) & (cos_e > 0), phot.albedo_factor(band) * albedo * f_sun / np.pi * shade, 0.0)


def thermal_w_m2_sr(band: str, cos_i: np.ndarray, cos_e: np.ndarray, phot: Photometry) -> np.ndarray:
    """Cold surface thermal emission, band radiance W m⁻² sr⁻¹ (0 off the visible disk)."""
    t = phot.t_night_k + (phot.t_subsolar_k - phot.t_night_k) * np.clip(cos_i, 0.0, None) ** 0.25
    t_grid = np.linspace(
        min(phot.t_night_k, phot.t_subsolar_k), max(phot.t_night_k, phot.t_subsolar_k) + 1, 64
    )
    radiance = np.interp(t, t_grid, band_planck_w_m2_sr(band, t_grid))  # a table: Planck per pixel is slow
    return np.where(cos_e > 0, phot.emissivity * radiance, 0.0)
