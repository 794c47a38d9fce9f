"""Two-band colour temperature: recovery of injected sources, error calibration by Monte Carlo, bad data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants
from scipy.integrate import quad

from ioscan.radiometry.bands import band_response
from ioscan.radiometry.colour import (
    ColorTemperatureFit,
    color_temperature_k,
    fit_color_temperature,
    fit_color_temperature_array,
)
from ioscan.radiometry.planck import spectral_radiance_w_m2_sr_um

PAIRS = [(("JIRAM", "L"), ("JIRAM", "M")), (("NIRC2", "Lp"), ("NIRC2", "Ms"))]


def true_intensity_gw_um_sr(instrument: str, band: str, t_k: float, area_km2: float) -> float:
    """Independent forward model: quad of Planck over the boxcar, ÷ bandwidth, × area (km² → m²), W → GW."""
    resp = band_response(instrument, band)
    lo, hi = resp.wavelength_um[0], resp.wavelength_um[-1]
    integral = quad(lambda lam: spectral_radiance_w_m2_sr_um(lam, t_k), lo, hi, epsrel=1e-12)[0]
    return integral / (hi - lo) * area_km2 * 1e6 / 1e9


@pytest.mark.parametrize(("b1", "b2"), PAIRS)
@pytest.mark.parametrize("t_k", [300.0, 450.0, 700.0, 1000.0, 1300.0, 1500.0])
def test_recovers_injected_temperature_and_area(b1, b2, t_k):
    area = 0.37
    i1, i2 = true_intensity_gw_um_sr(*b1, t_k, area), true_intensity_gw_um_sr(*b2, t_k, area)
    fit = fit_color_temperature(band_response(*b1), band_response(*b2), i1, 0.02 * i1, i2, 0.02 * i2)
    assert fit.valid and fit.message == "ok"
    # requirement is 2 %; the fit is exact to the table accuracy, so hold it to 1e-6
    assert fit.temperature_k == pytest.approx(t_k, rel=1e-6)
    assert fit.area_km2 == pytest.approx(area, rel=1e-6)
    assert fit.power_gw == pytest.approx(constants.Stefan_Boltzmann * t_k**4 * area * 1e6 / 1e9, rel=1e-6)
    assert fit.ratio == pytest.approx(i1 / i2)
    assert -1.0 < fit.t_area_correlation < -0.8  # T and A errors are strongly anti-correlated


def test_band_order_and_smooth_edges():
    t_k, area = 820.0, 2.5
    i_l, i_m = (
        true_intensity_gw_um_sr("JIRAM", "L", t_k, area),
        true_intensity_gw_um_sr("JIRAM", "M", t_k, area),
    )
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    a = fit_color_temperature(lb, mb, i_l, 0.05 * i_l, i_m, 0.03 * i_m)
    b = fit_color_temperature(mb, lb, i_m, 0.03 * i_m, i_l, 0.05 * i_l)
    assert b.temperature_k == pytest.approx(a.temperature_k, rel=1e-9)
    assert b.temperature_err_k == pytest.approx(a.temperature_err_k, rel=1e-9)
    assert b.area_err_km2 == pytest.approx(a.area_err_km2, rel=1e-9)
    assert b.power_err_gw == pytest.approx(a.power_err_gw, rel=1e-9)
    # smooth-edged NIRC2 filters hold the same equivalent width: still within 2 % of the boxcar truth
    i_lp, i_ms = (
        true_intensity_gw_um_sr("NIRC2", "Lp", t_k, area),
        true_intensity_gw_um_sr("NIRC2", "Ms", t_k, area),
    )
    s = fit_color_temperature(
        band_response("NIRC2", "Lp", edge="smooth"),
        band_response("NIRC2", "Ms", edge="smooth"),
        i_lp,
        0.01 * i_lp,
        i_ms,
        0.01 * i_ms,
    )
    assert s.temperature_k == pytest.approx(t_k, rel=0.02) and s.area_km2 == pytest.approx(area, rel=0.02)


@pytest.mark.parametrize(("b1", "b2"), PAIRS)
@pytest.mark.parametrize("snr", [30.0, 100.0])
@pytest.mark.parametrize("t_k", [400.0, 900.0, 1400.0])
def test_error_bars_are_calibrated(b1, b2, snr, t_k):
    """Normalised residuals over 4000 noisy trials have unit spread.

    SNR 30 and 100 in each band: T errors are then 1.6–10 % (JIRAM L/M, NIRC2 Lp/Ms at 400–1400 K), small
    enough for linear propagation; measured pull spreads are 0.93–1.09.
    """
    rng = np.random.default_rng(int(t_k + snr))
    area = 1.3
    i1, i2 = true_intensity_gw_um_sr(*b1, t_k, area), true_intensity_gw_um_sr(*b2, t_k, area)
    n = 4000
    o1 = i1 + rng.normal(size=n) * i1 / snr
    o2 = i2 + rng.normal(size=n) * i2 / snr
    fit = fit_color_temperature_array(band_response(*b1), band_response(*b2), o1, i1 / snr, o2, i2 / snr)
    assert fit.valid.all()
    power = constants.Stefan_Boltzmann * t_k**4 * area * 1e-3
    for value, err, truth in [
        (fit.temperature_k, fit.temperature_err_k, t_k),
        (fit.area_km2, fit.area_err_km2, area),
        (fit.power_gw, fit.power_err_gw, power),
    ]:
        pull = (value - truth) / err
        assert 0.8 < np.std(pull) < 1.2
        # the estimator's second-order bias is ∝ 1/SNR in σ units (measured ≤ 0.19σ at SNR 30, Lp/Ms 1400 K)
        assert abs(np.mean(pull)) < 7.0 / snr


def test_correlated_errors():
    """Fully correlated equal relative errors leave ratio and T untouched; MC with ρ = 0.6 is calibrated."""
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    t_k, area = 1000.0, 0.8
    i1, i2 = (
        true_intensity_gw_um_sr("JIRAM", "L", t_k, area),
        true_intensity_gw_um_sr("JIRAM", "M", t_k, area),
    )
    fit = fit_color_temperature(lb, mb, i1, 0.05 * i1, i2, 0.05 * i2, correlation=1.0)
    assert fit.temperature_err_k == pytest.approx(0.0, abs=1e-9 * t_k)
    assert fit.area_err_km2 == pytest.approx(0.05 * area, rel=1e-6)  # a pure scale error
    rho, snr, n = 0.6, 50.0, 4000
    rng = np.random.default_rng(7)
    z1 = rng.normal(size=n)
    z2 = rho * z1 + np.sqrt(1 - rho**2) * rng.normal(size=n)
    res = fit_color_temperature_array(
        lb, mb, i1 * (1 + z1 / snr), i1 / snr, i2 * (1 + z2 / snr), i2 / snr, correlation=rho
    )
    assert 0.85 < np.std((res.temperature_k - t_k) / res.temperature_err_k) < 1.15
    assert (
        0.85
        < np.std((res.power_gw - constants.Stefan_Boltzmann * t_k**4 * area * 1e-3) / res.power_err_gw)
        < 1.15
    )


def test_bad_data_never_raises():
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    rj_ratio = 1.01 * (4.78 / 3.455) ** 4  # bluer than any blackbody (Rayleigh–Jeans limit ≈ (λM/λL)⁴)
    # the ratio a 30 K blackbody gives (below the default t_min_k = 50 K)
    r_cold = true_intensity_gw_um_sr("JIRAM", "L", 30.0, 1.0) / true_intensity_gw_um_sr(
        "JIRAM", "M", 30.0, 1.0
    )
    assert float(color_temperature_k(lb, mb, r_cold)) == pytest.approx(30.0, rel=1e-6)
    r_hot = true_intensity_gw_um_sr("JIRAM", "L", 8000.0, 1.0) / true_intensity_gw_um_sr(
        "JIRAM", "M", 8000.0, 1.0
    )
    cases = {
        "non-positive intensity in JIRAM L": (-1.0, 0.1, 1.0, 0.1),
        "non-positive intensity in JIRAM M": (1.0, 0.1, 0.0, 0.1),
        "non-finite": (np.nan, 0.1, 1.0, 0.1),
        "negative intensity error": (1.0, -0.1, 1.0, 0.1),
        "Rayleigh–Jeans": (rj_ratio, 0.1, 1.0, 0.1),
        "too red": (r_cold, 0.01 * r_cold, 1.0, 0.01),
        "too blue: colour temperature above t_max_k": (r_hot, 0.01, 1.0, 0.01),
    }
    for text, args in cases.items():
        fit = fit_color_temperature(lb, mb, *args)
        assert isinstance(fit, ColorTemperatureFit)
        assert not fit.valid and text in fit.message
        assert np.isnan(fit.temperature_k) and np.isnan(fit.area_km2) and np.isnan(fit.power_gw)
    # raising t_max_k makes the 8000 K ratio acceptable
    ok = fit_color_temperature(lb, mb, r_hot, 0.01, 1.0, 0.01, t_max_k=1.0e4)
    assert ok.valid and ok.temperature_k == pytest.approx(8000.0, rel=1e-6)


def test_array_matches_scalar_and_mixed_validity():
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    t = np.array([350.0, 900.0, 1500.0])
    i1 = np.array([true_intensity_gw_um_sr("JIRAM", "L", x, 2.0) for x in t] + [-1.0])
    i2 = np.array([true_intensity_gw_um_sr("JIRAM", "M", x, 2.0) for x in t] + [1.0])
    res = fit_color_temperature_array(lb, mb, i1, 0.03 * np.abs(i1), i2, 0.03 * i2)
    assert res.valid.tolist() == [True, True, True, False] and len(res) == 4
    np.testing.assert_allclose(res.temperature_k[:3], t, rtol=1e-6)
    one = fit_color_temperature(lb, mb, i1[1], 0.03 * i1[1], i2[1], 0.03 * i2[1])
    assert res.item(1) == one
