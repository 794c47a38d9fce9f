"""Radiance of Io seen from an observer: reflected sunlight, cold surface emission, and hot spots.

Everything is **band radiance** (W m⁻² sr⁻¹, ∫ R B dλ / max R, the :mod:`ioscan.radiometry.bands`
convention); ground-based renderers divide by the filter bandwidth to get band-mean spectral radiance.

* Sunlight: solar spectral irradiance F☉(λ) = π B(λ, 5778 K) × Ω, with Ω set so that ∫F☉ dλ is the solar
  constant (1361 W m⁻²) at 1 au, scaled by (1 au / d)² (d ≈ 5.2 au at Io). Reflected radiance
  L = (I/F) · F☉/π with a Minnaert law I/F = A(lat, lon) · μ₀ᵏ · μᵏ⁻¹ (k = 1 is Lambert), zero where μ₀ ≤ 0.
* Albedo A(lat, lon): a band-dependent mean times a smooth random pattern (a sum of random plane waves on
  the unit sphere, deterministic from ``seed``), with polar darkening and optional dark paterae.
* Cold surface: emissivity ε × band B(T) with T = max(T_ss · μ₀^¼, T_night) (≈ 130 K at the sub-solar point,
  90 K at night): negligible at L, ~1e-4 of the reflected light at M, included for completeness.
* Hot spots: isotropic point sources of band intensity Σ_c L_band(T_c) · A_c · cos e (W sr⁻¹).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.radiometry.bands import BandResponse, band_radiance_w_m2_sr
from ioscan.radiometry.planck import SIGMA_W_M2_K4

SOLAR_CONSTANT_W_M2 = 1361.0
SUN_TEMPERATURE_K = 5778.0
AU_KM = 1.495978707e8
KM2_TO_M2 = 1e6
#: grid step of the tabulated albedo pattern, degrees (planetocentric latitude × east longitude)
TEXTURE_STEP_DEG = 0.5

#: mean normal albedo per band (model values: Io is bright at 2–3.5 µm, darker at 4–5 µm)
DEFAULT_ALBEDO: dict[str, float] = {
    "L": 0.55,
    "M": 0.30,
    "Kc": 0.75,
    "H2O": 0.45,
    "PAH": 0.55,
    "Lp": 0.50,
    "BrA_cont": 0.45,
    "BrA": 0.45,
    "Ms": 0.30,
}


def solar_band_irradiance_w_m2(resp: BandResponse, sun_distance_km: float) -> float:
    """Solar band irradiance ∫ R F☉ dλ / max R at ``sun_distance_km`` from the Sun, W m⁻²."""
    omega = SOLAR_CONSTANT_W_M2 / (SIGMA_W_M2_K4 * SUN_TEMPERATURE_K**4) * (AU_KM / sun_distance_km) ** 2
    return float(np.pi * band_radiance_w_m2_sr(resp, SUN_TEMPERATURE_K) * omega)


@dataclass(frozen=True)
class SurfaceModel:
    """Io's non-volcanic surface: albedo pattern, photometric law, cold thermal emission.

    Attributes:
        seed: seed of the albedo pattern.
        albedo: band name → mean normal albedo (unknown bands use 0.4).
        contrast: relative amplitude of the albedo pattern.
        minnaert_k: Minnaert exponent (1 = Lambert).
        polar_darkening: fractional albedo drop at the poles (× sin² lat).
        t_subsolar_k, t_night_k, emissivity: cold thermal emission model.
        dark_spots: (lat_deg, lon_w_deg, radius_deg) of dark paterae (albedo × 0.5 at the centre).
    """

    seed: int = 0
    albedo: dict = field(default_factory=lambda: dict(DEFAULT_ALBEDO))
    contrast: float = 0.25
    minnaert_k: float = 0.8
    polar_darkening: float = 0.3
    t_subsolar_k: float = 130.0
    t_night_k: float = 90.0
    emissivity: float = 0.9
    dark_spots: tuple = ()
    n_waves: int = 16

    def _waves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 0x5A])
        k = rng.normal(size=(self.n_waves, 3))
        k *= (rng.uniform(1.0, 5.0, self.n_waves) / np.linalg.norm(k, axis=1))[:, None]
        amp = rng.uniform(0.5, 1.0, self.n_waves) / np.sqrt(self.n_waves / 2)
        return k, amp, rng.uniform(0, 2 * np.pi, self.n_waves)

    def albedo_exact(self, band: str, unit_km: np.ndarray) -> np.ndarray:
        """Normal albedo of the analytic pattern at body-fixed unit vectors (..., 3)."""
        u = np.asarray(unit_km, float)
        k, amp, ph = self._waves()
        phase = (u @ (2 * np.pi * k.T) + ph).astype(np.float32)  # float32 cos: ample for an albedo pattern
        pattern = np.cos(phase) @ amp.astype(np.float32)
        a = self.albedo.get(band, 0.4) * (1.0 + self.contrast * np.tanh(pattern))
        a = a * (1.0 - self.polar_darkening * u[..., 2] ** 2)  # sin² of planetocentric latitude
        if self.dark_spots:
            centres, radii = self._dark_spot_vectors
            dots = centres @ u.reshape(-1, 3).T  # (n_spots, n_points), rows contiguous
            flat = a.reshape(-1).copy()
            for j, rad in enumerate(radii):
                near = np.flatnonzero(dots[j] > np.cos(np.radians(5.0 * rad)))
                sep = np.degrees(np.arccos(np.clip(dots[j, near], -1.0, 1.0)))
                flat[near] *= 1.0 - 0.5 * np.exp(-0.5 * (sep / rad) ** 2)
            a = flat.reshape(a.shape)
        return a

    def albedo_at(self, band: str, unit_km: np.ndarray) -> np.ndarray:
        """Normal albedo at body-fixed unit vectors (..., 3): the analytic pattern tabulated on a
        planetocentric grid (:data:`TEXTURE_STEP_DEG`) once per band and interpolated bilinearly (fast)."""
        from scipy.ndimage import map_coordinates

        u = np.asarray(unit_km, float)
        tex = self._texture(band)
        lat = np.degrees(np.arcsin(np.clip(u[..., 2], -1.0, 1.0)))
        lon_e = np.mod(np.degrees(np.arctan2(u[..., 1], u[..., 0])), 360.0)
        coords = np.stack([(lat + 90.0) / TEXTURE_STEP_DEG, lon_e / TEXTURE_STEP_DEG]).reshape(2, -1)
        out = map_coordinates(tex, coords, order=1, mode="nearest")
        return out.reshape(u.shape[:-1])

    def _texture(self, band: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_textures", {})
        if band not in cache:
            lat = np.arange(-90.0, 90.0 + TEXTURE_STEP_DEG / 2, TEXTURE_STEP_DEG)
            lon = np.arange(0.0, 360.0 + TEXTURE_STEP_DEG / 2, TEXTURE_STEP_DEG)  # 0 and 360 both present
            la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
            u = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
            cache[band] = self.albedo_exact(band, u)
        return cache[band]

    @cached_property
    def _dark_spot_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        lat = np.array([d[0] for d in self.dark_spots], float)
        lon = np.array([d[1] for d in self.dark_spots], float)
        c = iobody.direction_from_lat_pc_lon_w(iobody.lat_pg_to_lat_pc_deg(lat, lon), lon)
        return c, np.array([d[2] for d in self.dark_spots], float)

    def surface_temperature_k(self, incidence_deg: np.ndarray) -> np.ndarray:
        """Cold surface temperature, K: max(T_ss · cos(i)^¼, T_night)."""
        mu0 = np.clip(np.cos(np.radians(np.asarray(incidence_deg, float))), 0.0, 1.0)
        return np.maximum(self.t_subsolar_k * mu0**0.25, self.t_night_k)


def _surface_radiance(
    resp, surface: SurfaceModel, unit, mu0, mu, sun_distance_km: float, sunlight_fraction: float = 1.0
) -> np.ndarray:
    """Reflected + cold thermal band radiance for surface points (unit vectors, cos i, cos e); the reflected
    part × ``sunlight_fraction`` (the share of the Sun's disk not hidden by Jupiter: 0 in eclipse)."""
    mu = np.clip(mu, 0.05, 1.0)
    k = surface.minnaert_k
    alb = surface.albedo_at(resp.name, unit)
    i_over_f = np.where(mu0 > 0, alb * np.clip(mu0, 0, 1) ** k * mu ** (k - 1.0), 0.0)
    reflected = sunlight_fraction * i_over_f * solar_band_irradiance_w_m2(resp, sun_distance_km) / np.pi
    inc = np.degrees(np.arccos(np.clip(mu0, -1.0, 1.0)))
    thermal = surface.emissivity * band_radiance_w_m2_sr(resp, surface.surface_temperature_k(inc))
    return reflected + thermal


def surface_band_radiance_w_m2_sr(
    resp: BandResponse, arrays: dict[str, np.ndarray], surface: SurfaceModel, sun_distance_km: float
) -> np.ndarray:
    """Band radiance of the non-volcanic surface in every pixel from backplanes, W m⁻² sr⁻¹ (0 off the disk).

    Args:
        resp: the filter.
        arrays: backplanes (``lat_pc_deg``, ``lon_w_deg``, ``incidence_deg``, ``emission_deg``, ``on_disk``).
        surface: surface model.
        sun_distance_km: Sun–Io distance, km.
    """
    on = np.asarray(arrays["on_disk"]) > 0
    out = np.zeros(on.shape)
    if on.any():
        unit = iobody.direction_from_lat_pc_lon_w(arrays["lat_pc_deg"][on], arrays["lon_w_deg"][on])
        mu0 = np.cos(np.radians(arrays["incidence_deg"][on]))
        mu = np.cos(np.radians(arrays["emission_deg"][on]))
        out[on] = _surface_radiance(resp, surface, unit, mu0, mu, sun_distance_km)
    return out


def surface_radiance_image(
    resp: BandResponse, camera, pose, surface: SurfaceModel, sunlight_fraction: float = 1.0
) -> np.ndarray:
    """Surface band radiance of every pixel of ``camera`` at ``pose``, W m⁻² sr⁻¹ (fast path: only the
    ray–ellipsoid intersection and the two angles the photometry needs; same values as
    :func:`surface_band_radiance_w_m2_sr` on full backplanes). ``sunlight_fraction``: the share of the Sun's
    disk Jupiter leaves visible (:func:`ioscan.simulate.ephemeris.sunlight_fraction`; 0 in Io's eclipse,
    when only the cold surface and the hot spots shine)."""
    from ioscan.geometry.ellipsoid import intersect_rays

    rays = camera.rays() @ pose.inst_to_body.T
    pts, hit = intersect_rays(pose.observer_km, rays, iobody.IO.radii_km)
    out = np.zeros(hit.shape)
    if hit.any():
        p = pts[hit]
        n = iobody.surface_normal(p)
        to_sun = pose.sun_km - p
        to_obs = pose.observer_km - p
        mu0 = np.sum(n * to_sun, axis=-1) / np.linalg.norm(to_sun, axis=-1)
        mu = np.sum(n * to_obs, axis=-1) / np.linalg.norm(to_obs, axis=-1)
        unit = p / np.linalg.norm(p, axis=-1, keepdims=True)
        sun_km = float(np.linalg.norm(pose.sun_km))
        out[hit] = _surface_radiance(resp, surface, unit, mu0, mu, sun_km, sunlight_fraction)
    return out


def hot_spot_band_intensity_w_sr(resp: BandResponse, state: pd.DataFrame) -> np.ndarray:
    """Band intensity at normal view Σ_c L_band(T_c)·A_c of each hot spot, W sr⁻¹ (multiply by cos e)."""
    t1 = state["temp1_k"].to_numpy(float)
    a1 = state["area1_km2"].to_numpy(float)
    t2 = np.nan_to_num(state["temp2_k"].to_numpy(float), nan=0.0)
    a2 = np.nan_to_num(state["area2_km2"].to_numpy(float), nan=0.0)
    return (band_radiance_w_m2_sr(resp, t1) * a1 + band_radiance_w_m2_sr(resp, t2) * a2) * KM2_TO_M2
