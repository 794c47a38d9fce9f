"""Total thermal power of a hot spot from its M-band spectral radiant power.

For a blackbody of temperature T and area A, the M-band spectral radiant power is Φ_M = π · L̄_M(T) · A
(GW µm⁻¹; L̄_M the band-mean spectral radiance) and the total power is P = σT⁴A, so

    P = Φ_M · f(T),    f(T) = σT⁴ / (π L̄_M(T))   [µm].

There is no single fixed factor: f depends on T. For JIRAM M it is ≈ 69 µm at 300 K, 17.9 µm at 400 K,
7.36 µm at 600 K, a minimum ≈ 6.5 µm near 770 K (where ∂ln B/∂ln T = 4, λT ≈ 3670 µm K), 7.30 µm at
1000 K, 8.85 µm at 1200 K and 12.3 µm at 1500 K. Davies et al. (2024, PSJ) derive T from the JIRAM L/M ratio
(see :mod:`ioscan.radiometry.colour`, whose ``power_gw`` already carries the T–A covariance) and scale the
M-band power with it. When no temperature is available, the literature's practice is to quote a range for
an assumed temperature span; :func:`total_power_bracket_from_m_band_gw` gives the smallest and largest
power for T anywhere in 600–1200 K by default. Because f is not monotonic, that range is the extreme of f
over the interval (here 6.5–8.9 µm), not simply f at its two ends; below ~500 K f rises steeply, so cool
sources are badly served by any bracket.

A single-temperature blackbody is assumed throughout; a real hot spot has a temperature distribution, and
the factor is only as good as that assumption.
"""

from __future__ import annotations

import numpy as np

from ioscan.radiometry.bands import (
    BandResponse,
    RadiometryError,
    band_log_slope,
    band_mean_spectral_radiance_w_m2_sr_um,
    band_response,
)
from ioscan.radiometry.planck import SIGMA_W_M2_K4

BRACKET_T_LOW_K = 600.0
BRACKET_T_HIGH_K = 1200.0


def _m_band(band: BandResponse | None) -> BandResponse:
    return band_response("JIRAM", "M") if band is None else band


def m_band_to_total_factor(temperature_k, band: BandResponse | None = None) -> np.ndarray:
    """f(T) = σT⁴ / (π L̄_M(T)), µm: total power (GW) = M-band spectral radiant power (GW µm⁻¹) × f.

    Args:
        temperature_k: blackbody temperature(s), K (> 0).
        band: the filter (default JIRAM M; NIRC2 Ms works the same way).
    """
    m = _m_band(band)
    t = np.asarray(temperature_k, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = SIGMA_W_M2_K4 * t**4 / (np.pi * band_mean_spectral_radiance_w_m2_sr_um(m, t))
    return np.where(t > 0, f, np.nan)


def total_power_from_m_band_gw(
    spectral_power_gw_um,
    temperature_k,
    spectral_power_err_gw_um=0.0,
    temperature_err_k=0.0,
    band: BandResponse | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Total power (GW) and its 1σ error from M-band spectral radiant power and a temperature.

    Errors: σ(ln P)² = (σΦ/Φ)² + (4 − s_M(T))² (σT/T)² with s_M = ∂ln L̄_M/∂ln T; the two inputs are taken
    as independent. If T comes from the L/M ratio of the same measurement they are not (use the colour fit's
    ``power_gw``/``power_err_gw`` then, which carries that covariance).
    """
    m = _m_band(band)
    phi = np.asarray(spectral_power_gw_um, dtype=float)
    t = np.asarray(temperature_k, dtype=float)
    f = m_band_to_total_factor(t, m)
    power = phi * f
    with np.errstate(divide="ignore", invalid="ignore"):
        dlnf = 4.0 - band_log_slope(m, t)
        err = np.abs(power) * np.sqrt(
            (np.asarray(spectral_power_err_gw_um, float) / phi) ** 2
            + (dlnf * np.asarray(temperature_err_k, float) / t) ** 2
        )
        err = np.where(phi == 0, f * np.asarray(spectral_power_err_gw_um, float), err)
    return power, err


def total_power_bracket_from_m_band_gw(
    spectral_power_gw_um,
    t_low_k: float = BRACKET_T_LOW_K,
    t_high_k: float = BRACKET_T_HIGH_K,
    band: BandResponse | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) total power, GW, for an unknown temperature in [t_low_k, t_high_k] (default 600–1200 K).

    Uses the extremes of f(T) over the whole interval (f has a minimum near 770 K for JIRAM M).
    """
    f_min, f_max = m_band_factor_range(t_low_k, t_high_k, band)
    phi = np.asarray(spectral_power_gw_um, dtype=float)
    a, b = phi * f_min, phi * f_max
    return np.minimum(a, b), np.maximum(a, b)


def m_band_factor_range(
    t_low_k: float = BRACKET_T_LOW_K, t_high_k: float = BRACKET_T_HIGH_K, band: BandResponse | None = None
) -> tuple[float, float]:
    """(min, max) of f(T) = σT⁴/(π L̄_M(T)) over [t_low_k, t_high_k], µm (dense grid incl. both ends)."""
    if not 0 < t_low_k <= t_high_k:
        raise RadiometryError(f"need 0 < t_low_k ≤ t_high_k, got {t_low_k}, {t_high_k}")
    f = m_band_to_total_factor(np.geomspace(t_low_k, t_high_k, 2049), _m_band(band))
    return float(f.min()), float(f.max())
