"""Planck's law for a blackbody, per micrometre, and its inverse (monochromatic brightness temperature).

Units: wavelength µm, temperature K, spectral radiance W m⁻² sr⁻¹ µm⁻¹. Constants from
:mod:`scipy.constants` (CODATA). Every function broadcasts its arguments with numpy rules.

Edge cases (never an exception, never a floating-point warning):

* ``T == 0`` → radiance 0; ``T < 0`` or NaN → NaN. Very small ``T`` (exp overflow) underflows cleanly to 0.
* ``wavelength <= 0`` or NaN → NaN.
* Inverse: radiance 0 → 0 K, radiance < 0 or NaN → NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import constants as _c

#: first radiation constant for radiance, 2hc², expressed so that B = C1 / λ⁵ / (exp(C2/λT) − 1) gives
#: W m⁻² sr⁻¹ µm⁻¹ with λ in µm: 2hc² [W m²] × (1e6 µm/m)⁴ per µm⁵ … = 2hc² × 1e24.
C1_W_UM4_M2_SR = 2.0 * _c.h * _c.c**2 * 1e24
#: second radiation constant hc/k, µm K
C2_UM_K = _c.h * _c.c / _c.k * 1e6
#: Stefan–Boltzmann constant, W m⁻² K⁻⁴
SIGMA_W_M2_K4 = _c.Stefan_Boltzmann
#: Wien displacement constant, µm K
WIEN_UM_K = _c.Wien * 1e6


def spectral_radiance_w_m2_sr_um(wavelength_um, temperature_k) -> np.ndarray:
    """Blackbody spectral radiance B(λ, T), W m⁻² sr⁻¹ µm⁻¹.

    Args:
        wavelength_um: wavelength(s), µm (> 0).
        temperature_k: temperature(s), K (≥ 0). Broadcast against ``wavelength_um``.

    Returns:
        float64 array of the broadcast shape (a 0-d array for scalar inputs).
    """
    lam = np.asarray(wavelength_um, dtype=float)
    t = np.asarray(temperature_k, dtype=float)
    lam, t = np.broadcast_arrays(lam, t)
    good = (lam > 0) & (t >= 0)  # False for NaN too
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        x = C2_UM_K / (lam * t)  # t == 0 → inf
        b = C1_W_UM4_M2_SR / lam**5 / np.expm1(x)  # expm1(inf) = inf → 0
    return np.where(good, b, np.nan)


def brightness_temperature_k(wavelength_um, spectral_radiance_w_m2_sr_um) -> np.ndarray:
    """Monochromatic brightness temperature, K: the T with B(λ, T) = L (inverse of Planck).

    T = C2 / (λ · ln(1 + C1 / (λ⁵ L))). Radiance 0 → 0 K; negative or NaN radiance → NaN.
    """
    lam = np.asarray(wavelength_um, dtype=float)
    rad = np.asarray(spectral_radiance_w_m2_sr_um, dtype=float)
    lam, rad = np.broadcast_arrays(lam, rad)
    good = (lam > 0) & (rad >= 0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        y = C1_W_UM4_M2_SR / (lam**5 * rad)  # rad == 0 → inf → T = 0
        t = C2_UM_K / (lam * np.log1p(y))
    return np.where(good, t, np.nan)


def dlnb_dlnt(wavelength_um, temperature_k) -> np.ndarray:
    """Logarithmic temperature sensitivity ∂ln B/∂ln T = x eˣ/(eˣ − 1) with x = C2/(λT) (dimensionless).

    Tends to 1 (Rayleigh–Jeans) for x → 0 and to x (Wien) for large x.
    """
    lam = np.asarray(wavelength_um, dtype=float)
    t = np.asarray(temperature_k, dtype=float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        x = C2_UM_K / (lam * t)
        # x / (1 − e^{−x}) is stable for all x > 0
        s = x / -np.expm1(-x)
    return np.where((lam > 0) & (t > 0), s, np.nan)


def wien_peak_um(temperature_k) -> np.ndarray:
    """Wavelength of the maximum of B_λ(T), µm (Wien's displacement law, b / T)."""
    t = np.asarray(temperature_k, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t > 0, WIEN_UM_K / t, np.nan)
