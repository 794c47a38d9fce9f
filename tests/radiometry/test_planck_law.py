"""Planck's law against astropy's independent implementation, the Wien and Stefan–Boltzmann laws."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.modeling.physical_models import BlackBody
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import constants
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from ioscan.radiometry.planck import (
    C2_UM_K,
    brightness_temperature_k,
    dlnb_dlnt,
    spectral_radiance_w_m2_sr_um,
    wien_peak_um,
)

UNIT = u.W / (u.m**2 * u.sr * u.um)


@pytest.mark.parametrize("t_k", [50.0, 300.0, 1000.0, 1800.0, 5772.0])
def test_matches_astropy_blackbody(t_k):
    lam = np.array([0.5, 1.0, 2.271, 3.455, 4.78, 10.0, 100.0])
    bb = BlackBody(temperature=t_k * u.K)
    ref = bb(lam * u.um).to(UNIT, equivalencies=u.spectral_density(lam * u.um)).value
    got = spectral_radiance_w_m2_sr_um(lam, t_k)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_wien_peak():
    for t_k in (300.0, 1000.0, 1500.0):
        grid = np.geomspace(0.3, 100.0, 2000)  # crude maximum on a grid, then a bracketed refinement
        k = int(np.argmax(spectral_radiance_w_m2_sr_um(grid, t_k)))
        res = minimize_scalar(
            lambda lam, t=t_k: -spectral_radiance_w_m2_sr_um(lam, t),
            bracket=(grid[k - 1], grid[k], grid[k + 1]),
            tol=1e-12,
        )
        assert res.x == pytest.approx(2897.771955 / t_k, rel=1e-6)
        assert wien_peak_um(t_k) == pytest.approx(res.x, rel=1e-6)


@pytest.mark.parametrize("t_k", [200.0, 1200.0])
def test_stefan_boltzmann(t_k):
    peak = 2897.77 / t_k
    total = sum(
        quad(lambda lam: spectral_radiance_w_m2_sr_um(lam, t_k), a, b, epsrel=1e-12, limit=200)[0]
        for a, b in [(peak / 50, peak), (peak, 20 * peak), (20 * peak, 2000 * peak)]
    )
    assert np.pi * total == pytest.approx(constants.Stefan_Boltzmann * t_k**4, rel=1e-6)


def test_rayleigh_jeans_and_wien_limits():
    # λT ≫ hc/k: B → 2ckT/λ⁴ ; per µm with λ in µm
    lam, t_k = 1.0e4, 5000.0
    rj = 2 * constants.c * constants.k * t_k / (lam * 1e-6) ** 4 * 1e-6
    assert spectral_radiance_w_m2_sr_um(lam, t_k) == pytest.approx(rj, rel=2e-4)
    assert dlnb_dlnt(lam, t_k) == pytest.approx(1.0, abs=2e-4)
    # λT ≪ hc/k: d ln B / d ln T → x
    lam, t_k = 1.0, 100.0
    assert dlnb_dlnt(lam, t_k) == pytest.approx(
        constants.h * constants.c / constants.k / 1e-6 / 100.0, rel=1e-12
    )


def test_log_slope_matches_numerical_derivative():
    lam, t = 4.78, np.array([150.0, 700.0, 2000.0])
    h = 1e-5
    num = (
        np.log(spectral_radiance_w_m2_sr_um(lam, t * (1 + h)))
        - np.log(spectral_radiance_w_m2_sr_um(lam, t * (1 - h)))
    ) / (np.log1p(h) - np.log1p(-h))
    np.testing.assert_allclose(dlnb_dlnt(lam, t), num, rtol=1e-8)


@pytest.mark.filterwarnings("error")
def test_edge_cases_without_warnings():
    out = spectral_radiance_w_m2_sr_um(
        [1.0, 1.0, 1.0, 1.0, -1.0, np.nan], [0.0, 1.0, -5.0, np.nan, 300.0, 300.0]
    )
    assert out[0] == 0.0 and out[1] == 0.0  # 1 K at 1 µm: exp overflow underflows to 0
    assert np.all(np.isnan(out[2:]))
    t = brightness_temperature_k([3.0, 3.0, 3.0, 0.0], [0.0, -1.0, np.nan, 1.0])
    assert t[0] == 0.0 and np.all(np.isnan(t[1:]))


def test_broadcasting_shapes():
    lam = np.linspace(1, 5, 7)[:, None]
    t = np.array([300.0, 600.0, 900.0])[None, :]
    assert spectral_radiance_w_m2_sr_um(lam, t).shape == (7, 3)
    assert brightness_temperature_k(lam, spectral_radiance_w_m2_sr_um(lam, t)).shape == (7, 3)
    assert spectral_radiance_w_m2_sr_um(3.0, 500.0).shape == ()


@settings(max_examples=300, deadline=None)
@given(st.floats(0.5, 30.0), st.floats(30.0, 1.0e4))
def test_brightness_temperature_round_trip(lam, t_k):
    # beyond x = hc/(λkT) ≈ 700, B underflows float64 (e^-x < 1e-304): nothing left to invert
    assume(C2_UM_K / (lam * t_k) < 650)
    b = spectral_radiance_w_m2_sr_um(lam, t_k)
    assert brightness_temperature_k(lam, b) == pytest.approx(t_k, rel=1e-10)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.5, 30.0), st.floats(-30.0, 10.0))
def test_radiance_round_trip(lam, log10_radiance):
    rad = 10.0**log10_radiance
    t = brightness_temperature_k(lam, rad)
    assert spectral_radiance_w_m2_sr_um(lam, t) == pytest.approx(rad, rel=1e-9)
