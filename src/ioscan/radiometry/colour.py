"""Two-band colour temperature, emitting area and total power of a hot spot (single-temperature blackbody).

Model: the spectral intensity in band b (GW µm⁻¹ sr⁻¹, foreshortening-corrected) of a blackbody of
temperature T and area A is ``I_b = L̄_b(T) · A · 1e-9`` with L̄_b the band-mean spectral radiance
(W m⁻² sr⁻¹ µm⁻¹, :func:`~ioscan.radiometry.bands.band_mean_spectral_radiance_w_m2_sr_um`) and A in m².
The ratio r = I₁/I₂ depends on T only and is strictly monotonic, so T is read from a cubic Hermite table of
ln r against ln T (exact slopes, one Newton polish). Then A = I·1e9/L̄ and the total (hemispheric) power is
P = σT⁴A.

Errors (linear propagation, exact for this two-equation/two-unknown system): with eᵢ = σᵢ/Iᵢ, the band
log-slopes sᵢ = ∂ln L̄ᵢ/∂ln T and Δ = s₁ − s₂,

    δln T = (δln I₁ − δln I₂)/Δ,    δln A = (s₁ δln I₂ − s₂ δln I₁)/Δ,

so var(ln T), var(ln A) and their covariance follow from (e₁, e₂, ρ); T and A are strongly anti-correlated
and the power error σ(ln P)² = 16 var(ln T) + var(ln A) + 8 cov(ln T, ln A) uses that covariance.
Linear propagation is accurate when the ratio's relative error is small against Δ (SNR ≳ 20 in each band
for JIRAM L/M at 300–1500 K); at lower SNR the errors are only indicative.

Data problems never raise: the fit comes back with ``valid=False`` and a message (non-positive or NaN
intensity, ratio redder than a blackbody at ``t_min_k`` or bluer than at ``t_max_k`` or than the
Rayleigh–Jeans limit).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicHermiteSpline

from ioscan.radiometry.bands import (
    TABLE_T_MAX_K,
    TABLE_T_MIN_K,
    BandResponse,
    RadiometryError,
    band_log_slope,
    band_mean_spectral_radiance_w_m2_sr_um,
)
from ioscan.radiometry.planck import SIGMA_W_M2_K4

DEFAULT_T_MIN_K = 50.0
DEFAULT_T_MAX_K = 5000.0


@dataclass(frozen=True)
class ColorTemperatureFit:
    """Result of a two-band colour-temperature fit (NaN values when ``valid`` is False).

    Attributes:
        temperature_k, temperature_err_k: colour temperature and its 1σ error, K.
        area_km2, area_err_km2: emitting area (blackbody of that temperature), km².
        power_gw, power_err_gw: total power σT⁴A, GW (error includes the T–A covariance).
        ratio, ratio_err: I₁/I₂ and its 1σ error.
        valid: False when no temperature could be derived; ``message`` says why.
        message: "ok" or the reason for ``valid=False``.
        t_area_correlation: correlation coefficient of the T and A errors (typically ≈ −0.9…−1).
    """

    temperature_k: float
    temperature_err_k: float
    area_km2: float
    area_err_km2: float
    power_gw: float
    power_err_gw: float
    ratio: float
    ratio_err: float
    valid: bool
    message: str
    t_area_correlation: float = float("nan")


@dataclass(frozen=True)
class ColorTemperatureFitArray:
    """Vectorised :class:`ColorTemperatureFit`: same fields, each an array of the broadcast input shape."""

    temperature_k: np.ndarray
    temperature_err_k: np.ndarray
    area_km2: np.ndarray
    area_err_km2: np.ndarray
    power_gw: np.ndarray
    power_err_gw: np.ndarray
    ratio: np.ndarray
    ratio_err: np.ndarray
    valid: np.ndarray
    message: np.ndarray
    t_area_correlation: np.ndarray

    def __len__(self) -> int:
        return int(self.valid.size)

    def item(self, index) -> ColorTemperatureFit:
        """One element as a scalar :class:`ColorTemperatureFit` (``index`` into the flattened arrays)."""
        vals = {f.name: getattr(self, f.name).ravel()[index] for f in fields(self)}
        vals = {
            k: (bool(v) if k == "valid" else str(v) if k == "message" else float(v)) for k, v in vals.items()
        }
        return ColorTemperatureFit(**vals)


@dataclass(frozen=True)
class _RatioTable:
    forward: CubicHermiteSpline  # ln T → ln r
    inverse: CubicHermiteSpline  # ln r → ln T (r increasing)
    sign: float  # +1 if r increases with T
    ln_r_rayleigh_jeans: float  # limit of ln r for T → ∞


@lru_cache(maxsize=64)
def _ratio_table(band1: BandResponse, band2: BandResponse) -> _RatioTable:
    ln_t = np.linspace(np.log(TABLE_T_MIN_K), np.log(TABLE_T_MAX_K), 1500)
    t = np.exp(ln_t)
    ln_r = np.log(
        band_mean_spectral_radiance_w_m2_sr_um(band1, t) / band_mean_spectral_radiance_w_m2_sr_um(band2, t)
    )
    slope = band_log_slope(band1, t) - band_log_slope(band2, t)
    if not (np.all(slope > 1e-6) or np.all(slope < -1e-6)):
        raise RadiometryError(
            f"bands {band1.label} and {band2.label} do not give a colour temperature "
            "(their ratio is not strictly monotonic in T)"
        )
    sign = 1.0 if slope[0] > 0 else -1.0
    forward = CubicHermiteSpline(ln_t, ln_r, slope)
    order = slice(None) if sign > 0 else slice(None, None, -1)
    inverse = CubicHermiteSpline(ln_r[order], ln_t[order], 1.0 / slope[order])
    # Rayleigh–Jeans limit: B ∝ λ⁻⁴, ratio of band means of λ⁻⁴
    n1, w1 = band1._nodes
    n2, w2 = band2._nodes
    rj = (np.sum(w1 * n1**-4.0) / band1.bandwidth_um) / (np.sum(w2 * n2**-4.0) / band2.bandwidth_um)
    return _RatioTable(forward, inverse, sign, float(np.log(rj)))


def color_ratio(band1: BandResponse, band2: BandResponse, temperature_k) -> np.ndarray:
    """Blackbody ratio L̄₁(T)/L̄₂(T) of band-mean spectral radiances (= I₁/I₂ for one temperature)."""
    t = np.asarray(temperature_k, dtype=float)
    return band_mean_spectral_radiance_w_m2_sr_um(band1, t) / band_mean_spectral_radiance_w_m2_sr_um(band2, t)


def color_temperature_k(band1: BandResponse, band2: BandResponse, ratio) -> np.ndarray:
    """Blackbody temperature (K) whose band-mean ratio L̄₁/L̄₂ equals ``ratio``; NaN outside 20 K – 1e5 K."""
    tab = _ratio_table(band1, band2)
    r = np.asarray(ratio, dtype=float)
    out = np.full(r.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_r = np.log(r)
    lo, hi = sorted((float(tab.forward(np.log(TABLE_T_MIN_K))), float(tab.forward(np.log(TABLE_T_MAX_K)))))
    ok = np.isfinite(ln_r) & (ln_r >= lo) & (ln_r <= hi)
    if np.any(ok):
        target = ln_r[ok]
        ln_t = tab.inverse(target)
        ln_t = np.clip(
            ln_t - (tab.forward(ln_t) - target) / tab.forward(ln_t, 1),
            np.log(TABLE_T_MIN_K),
            np.log(TABLE_T_MAX_K),
        )
        out[ok] = np.exp(ln_t)
    return out


def fit_color_temperature_array(
    band1: BandResponse,
    band2: BandResponse,
    intensity1_gw_um_sr,
    intensity1_err_gw_um_sr,
    intensity2_gw_um_sr,
    intensity2_err_gw_um_sr,
    *,
    correlation: float = 0.0,
    t_min_k: float = DEFAULT_T_MIN_K,
    t_max_k: float = DEFAULT_T_MAX_K,
) -> ColorTemperatureFitArray:
    """Colour temperature, area and power for arrays of two-band measurements (vectorised).

    Args:
        band1, band2: the two filters (e.g. JIRAM L and M; order free, ``ratio`` is I₁/I₂).
        intensity1_gw_um_sr, intensity2_gw_um_sr: spectral intensities, GW µm⁻¹ sr⁻¹, corrected for
            foreshortening (spectral radiant power ÷ π gives the same thing).
        intensity1_err_gw_um_sr, intensity2_err_gw_um_sr: their 1σ errors (≥ 0).
        correlation: correlation coefficient of the two intensity errors (−1…1).
        t_min_k, t_max_k: physical temperature range; ratios outside give ``valid=False``.

    Returns:
        :class:`ColorTemperatureFitArray` of the broadcast shape.

    Raises:
        RadiometryError: only for bad configuration (bands without a monotonic ratio, bad range/correlation).
    """
    if not -1.0 <= correlation <= 1.0:
        raise RadiometryError(f"correlation must be in [-1, 1], got {correlation}")
    if not TABLE_T_MIN_K <= t_min_k < t_max_k <= TABLE_T_MAX_K:
        raise RadiometryError(f"need {TABLE_T_MIN_K} ≤ t_min_k < t_max_k ≤ {TABLE_T_MAX_K} K")
    tab = _ratio_table(band1, band2)
    i1, e1, i2, e2 = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (
                intensity1_gw_um_sr,
                intensity1_err_gw_um_sr,
                intensity2_gw_um_sr,
                intensity2_err_gw_um_sr,
            )
        )
    )
    shape = i1.shape
    nan = np.full(shape, np.nan)
    message = np.full(shape, "ok", dtype=object)
    bad = np.zeros(shape, dtype=bool)

    def flag(mask: np.ndarray, text: str) -> None:
        new = mask & ~bad
        message[new] = text
        bad[...] = bad | mask

    flag(
        ~(np.isfinite(i1) & np.isfinite(i2) & np.isfinite(e1) & np.isfinite(e2)),
        "non-finite intensity or error",
    )
    flag((e1 < 0) | (e2 < 0), "negative intensity error")
    flag(i1 <= 0, f"non-positive intensity in {band1.label}: no colour temperature")
    flag(i2 <= 0, f"non-positive intensity in {band2.label}: no colour temperature")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = i1 / i2
        rel1, rel2 = e1 / i1, e2 / i2
        ratio_err = np.abs(ratio) * np.sqrt(
            np.maximum(rel1**2 + rel2**2 - 2 * correlation * rel1 * rel2, 0.0)
        )
        ln_r = np.where(bad, np.nan, np.log(np.abs(ratio)))
    # oriented so that s_ln_r increases with T
    s_ln_r = tab.sign * ln_r
    s_lo = tab.sign * float(tab.forward(np.log(t_min_k)))
    s_hi = tab.sign * float(tab.forward(np.log(t_max_k)))
    s_rj = tab.sign * tab.ln_r_rayleigh_jeans
    flag(
        ~bad & (s_ln_r >= s_rj), "too blue: ratio beyond the Rayleigh–Jeans limit (no blackbody temperature)"
    )
    flag(~bad & (s_ln_r > s_hi), f"too blue: colour temperature above t_max_k = {t_max_k:g} K")
    flag(~bad & (s_ln_r < s_lo), f"too red: colour temperature below t_min_k = {t_min_k:g} K")
    ok = ~bad

    t = nan.copy()
    t[ok] = color_temperature_k(band1, band2, ratio[ok])
    s1, s2 = nan.copy(), nan.copy()
    s1[ok] = band_log_slope(band1, t[ok])
    s2[ok] = band_log_slope(band2, t[ok])
    lb1, lb2 = nan.copy(), nan.copy()
    lb1[ok] = band_mean_spectral_radiance_w_m2_sr_um(band1, t[ok])
    lb2[ok] = band_mean_spectral_radiance_w_m2_sr_um(band2, t[ok])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        area_m2 = np.sqrt(i1 * i2 / (lb1 * lb2)) * 1e9
        delta = s1 - s2
        c12 = correlation * rel1 * rel2
        var_lt = (rel1**2 + rel2**2 - 2 * c12) / delta**2
        var_la = (s1**2 * rel2**2 + s2**2 * rel1**2 - 2 * s1 * s2 * c12) / delta**2
        cov = (-s2 * rel1**2 - s1 * rel2**2 + (s1 + s2) * c12) / delta**2
        var_lp = np.maximum(16 * var_lt + var_la + 8 * cov, 0.0)
        power_gw = SIGMA_W_M2_K4 * t**4 * area_m2 / 1e9
        corr = cov / np.sqrt(var_lt * var_la)
    area_km2 = area_m2 / 1e6
    return ColorTemperatureFitArray(
        temperature_k=t,
        temperature_err_k=t * np.sqrt(var_lt),
        area_km2=area_km2,
        area_err_km2=area_km2 * np.sqrt(var_la),
        power_gw=power_gw,
        power_err_gw=power_gw * np.sqrt(var_lp),
        ratio=np.where(np.isfinite(i1) & np.isfinite(i2), ratio, np.nan),
        ratio_err=ratio_err,
        valid=ok,
        message=message,
        t_area_correlation=corr,
    )


def fit_color_temperature(
    band1: BandResponse,
    band2: BandResponse,
    intensity1_gw_um_sr: float,
    intensity1_err_gw_um_sr: float,
    intensity2_gw_um_sr: float,
    intensity2_err_gw_um_sr: float,
    *,
    correlation: float = 0.0,
    t_min_k: float = DEFAULT_T_MIN_K,
    t_max_k: float = DEFAULT_T_MAX_K,
) -> ColorTemperatureFit:
    """Colour temperature, area and power from one two-band measurement (see module docstring).

    Example: JIRAM L and M intensities of a hot spot →
    ``fit_color_temperature(band_response("JIRAM", "L"), band_response("JIRAM", "M"), iL, eL, iM, eM)``.
    """
    res = fit_color_temperature_array(
        band1,
        band2,
        intensity1_gw_um_sr,
        intensity1_err_gw_um_sr,
        intensity2_gw_um_sr,
        intensity2_err_gw_um_sr,
        correlation=correlation,
        t_min_k=t_min_k,
        t_max_k=t_max_k,
    )
    return res.item(0)
