"""Total power from M-band spectral radiant power: factor vs σT⁴A, independent quadrature, bracket, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants
from scipy.integrate import quad
from scipy.optimize import brentq

from ioscan.instruments import jiram
from ioscan.radiometry.bands import band_mean_spectral_radiance_w_m2_sr_um, band_response
from ioscan.radiometry.colour import fit_color_temperature
from ioscan.radiometry.planck import C2_UM_K, spectral_radiance_w_m2_sr_um
from ioscan.radiometry.power import (
    m_band_factor_range,
    m_band_to_total_factor,
    total_power_bracket_from_m_band_gw,
    total_power_from_m_band_gw,
)


@pytest.mark.parametrize("t_k", [300.0, 600.0, 1000.0, 1500.0])
def test_factor_against_independent_quadrature(t_k):
    lo, hi = jiram.M_BAND.low_um, jiram.M_BAND.high_um
    band_mean = quad(lambda lam: spectral_radiance_w_m2_sr_um(lam, t_k), lo, hi, epsrel=1e-12)[0] / (hi - lo)
    expected = constants.Stefan_Boltzmann * t_k**4 / (np.pi * band_mean)
    assert m_band_to_total_factor(t_k) == pytest.approx(expected, rel=1e-8)


def test_colour_fit_power_equals_m_band_route():
    """σT⁴A from the L/M colour fit equals π·I_M × f(T): two routes, one physics."""
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    for t_k, area_km2 in [(450.0, 12.0), (900.0, 0.8), (1400.0, 0.05)]:
        i_l = band_mean_spectral_radiance_w_m2_sr_um(lb, t_k) * area_km2 * 1e-3
        i_m = band_mean_spectral_radiance_w_m2_sr_um(mb, t_k) * area_km2 * 1e-3
        fit = fit_color_temperature(lb, mb, i_l, 0.02 * i_l, i_m, 0.02 * i_m)
        power, _ = total_power_from_m_band_gw(np.pi * i_m, fit.temperature_k)
        assert power == pytest.approx(fit.power_gw, rel=1e-9)
        assert power == pytest.approx(constants.Stefan_Boltzmann * t_k**4 * area_km2 * 1e-3, rel=1e-6)


def test_factor_minimum_where_log_slope_is_four():
    """f ∝ T⁴/L̄_M(T) is smallest where ∂ln B/∂ln T = 4, i.e. x/(1 − e⁻ˣ) = 4 at λ ≈ 4.78 µm (≈ 768 K)."""
    x4 = brentq(lambda x: x / -np.expm1(-x) - 4.0, 1.0, 10.0)
    t_expected = C2_UM_K / (x4 * jiram.M_BAND.center_um)
    t = np.linspace(500.0, 1100.0, 6001)
    t_min = t[np.argmin(m_band_to_total_factor(t))]
    assert t_min == pytest.approx(t_expected, rel=0.01)


def test_bracket_spans_factor_over_interval():
    f_min, f_max = m_band_factor_range(600.0, 1200.0)
    f = m_band_to_total_factor(np.linspace(600.0, 1200.0, 20001))
    assert f_min == pytest.approx(f.min(), rel=1e-6) and f_max == pytest.approx(f.max(), rel=1e-9)
    assert f_min < min(m_band_to_total_factor([600.0, 1200.0]))  # interior minimum: not the end values
    lo, hi = total_power_bracket_from_m_band_gw(np.array([10.0, 20.0]))
    np.testing.assert_allclose(lo, [10 * f_min, 20 * f_min])
    np.testing.assert_allclose(hi, [10 * f_max, 20 * f_max])
    # NIRC2 Ms works the same way and gives a similar (not identical) factor
    ms = m_band_factor_range(band=band_response("NIRC2", "Ms"))
    assert ms != (f_min, f_max) and ms[0] == pytest.approx(f_min, rel=0.05)


def test_error_propagation_matches_monte_carlo():
    rng = np.random.default_rng(5)
    phi, sphi, t_k, st = 30.0, 1.5, 700.0, 35.0
    p, err = total_power_from_m_band_gw(phi, t_k, sphi, st)
    n = 20000
    samples, _ = total_power_from_m_band_gw(phi + sphi * rng.normal(size=n), t_k + st * rng.normal(size=n))
    assert np.std(samples) == pytest.approx(float(err), rel=0.06)
    assert float(p) == pytest.approx(phi * float(m_band_to_total_factor(t_k)))
    # near the factor's minimum the temperature error barely matters
    _, err_t_only = total_power_from_m_band_gw(phi, 768.0, 0.0, 50.0)
    assert float(err_t_only) < 0.02 * phi * float(m_band_to_total_factor(768.0))


def test_vectorised_and_nan_safe():
    p, e = total_power_from_m_band_gw(np.array([1.0, 2.0, 3.0]), np.array([500.0, -1.0, np.nan]), 0.1, 10.0)
    assert np.isfinite(p[0]) and np.isnan(p[1]) and np.isnan(p[2])
    assert p.shape == e.shape == (3,)
