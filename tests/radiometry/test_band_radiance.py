"""Band radiance: filter integrals against scipy quad, the BandImage convention, speed, inverses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from ioscan.errors import IoscanError
from ioscan.instruments import jiram, nirc2
from ioscan.radiometry.bands import (
    BandResponse,
    RadiometryError,
    band_log_slope,
    band_mean_spectral_radiance_w_m2_sr_um,
    band_radiance_w_m2_sr,
    band_response,
    brightness_temperature_band_k,
)
from ioscan.radiometry.planck import spectral_radiance_w_m2_sr_um
from ioscan.records import BAND_RADIANCE_UNIT, BandImage

BANDS = [("JIRAM", "L"), ("JIRAM", "M"), ("NIRC2", "Kc"), ("NIRC2", "PAH"), ("NIRC2", "Lp"), ("NIRC2", "Ms")]
TEMPS = [15.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 1.0e4, 2.0e5]  # 15 K and 2e5 K lie outside the table


def quad_band_radiance(resp: BandResponse, t_k: float) -> float:
    """Independent reference: adaptive quadrature of R(λ)B(λ,T) with R interpolated linearly."""
    lam, r = resp.wavelength_um, resp.response / resp.response.max()

    def integrand(x):
        return float(np.interp(x, lam, r, left=0.0, right=0.0) * spectral_radiance_w_m2_sr_um(x, t_k))

    return quad(integrand, lam[0], lam[-1], points=list(lam[1:-1]), epsabs=0.0, epsrel=1e-11, limit=500)[0]


@pytest.mark.parametrize("edge", ["boxcar", "smooth"])
@pytest.mark.parametrize(("instrument", "band"), BANDS)
def test_band_radiance_matches_quad(instrument, band, edge):
    resp = band_response(instrument, band, edge=edge)
    got = band_radiance_w_m2_sr(resp, TEMPS)
    ref = [quad_band_radiance(resp, t) for t in TEMPS]
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_jiram_boxcar_is_plain_integral_over_sis_limits():
    for name, b in jiram.BANDS.items():
        resp = band_response("JIRAM", name)
        ref = quad(lambda lam: spectral_radiance_w_m2_sr_um(lam, 900.0), b.low_um, b.high_um, epsrel=1e-12)[0]
        assert band_radiance_w_m2_sr(resp, 900.0) == pytest.approx(ref, rel=1e-9)
        assert resp.bandwidth_um == pytest.approx(b.high_um - b.low_um)
        assert resp.equivalent_width_um == pytest.approx(b.bandwidth_um, rel=1e-12)


@pytest.mark.parametrize("name", list(nirc2.FILTERS))
def test_nirc2_equivalent_width_is_bandwidth(name):
    f = nirc2.FILTERS[name]
    for edge in ("boxcar", "smooth"):
        resp = band_response("nirc2", name, edge=edge)
        assert resp.equivalent_width_um == pytest.approx(f.bandwidth_um, rel=1e-9)
        assert resp.center_um == f.center_um


def test_band_mean_matches_bandimage_convention():
    """A JIRAM pixel of blackbody band radiance converts (BandImage) to our band-mean spectral radiance."""
    resp = band_response("JIRAM", "M")
    t = np.array([[250.0, 600.0], [1000.0, 1600.0]])
    img = BandImage(
        "M",
        band_radiance_w_m2_sr(resp, t).astype(np.float32),
        BAND_RADIANCE_UNIT,
        jiram.M_BAND.center_um,
        jiram.M_BAND.bandwidth_um,
    )
    np.testing.assert_allclose(
        img.spectral_radiance_w_m2_sr_um(), band_mean_spectral_radiance_w_m2_sr_um(resp, t), rtol=1e-6
    )
    np.testing.assert_allclose(
        brightness_temperature_band_k(resp, img.spectral_radiance_w_m2_sr_um()), t, rtol=1e-6
    )


def test_narrow_band_mean_tends_to_monochromatic():
    """Kc (30 nm wide): the band mean equals B at the centre to second order in the width."""
    resp = band_response("NIRC2", "Kc")
    t = 1200.0
    lam = resp.center_um
    b0 = spectral_radiance_w_m2_sr_um(lam, t)
    h = 1e-4
    d2 = (spectral_radiance_w_m2_sr_um(lam + h, t) - 2 * b0 + spectral_radiance_w_m2_sr_um(lam - h, t)) / h**2
    expected = b0 + d2 * resp.bandwidth_um**2 / 24  # mean of a parabola over a boxcar
    assert band_mean_spectral_radiance_w_m2_sr_um(resp, t) == pytest.approx(expected, rel=1e-7)


def test_log_slope_matches_numerical_derivative():
    resp = band_response("NIRC2", "Lp", edge="smooth")
    t = np.array([40.0, 200.0, 750.0, 2500.0, 3.0e5])
    h = 1e-5
    num = (
        np.log(band_radiance_w_m2_sr(resp, t * (1 + h))) - np.log(band_radiance_w_m2_sr(resp, t * (1 - h)))
    ) / (np.log1p(h) - np.log1p(-h))
    np.testing.assert_allclose(band_log_slope(resp, t), num, rtol=1e-6)


def test_vectorised_round_trip_1e5_temperatures():
    """10⁵ temperatures in one call agree with the scalar path and invert (speed: bench_radiometry)."""
    resp = band_response("JIRAM", "L")
    t = np.random.default_rng(0).uniform(100.0, 2000.0, 100_000)
    rad = band_mean_spectral_radiance_w_m2_sr_um(resp, t)
    back = brightness_temperature_band_k(resp, rad)
    np.testing.assert_allclose(back, t, rtol=1e-9)
    some = np.arange(0, t.size, 9_973)
    scalar = [float(band_mean_spectral_radiance_w_m2_sr_um(resp, float(tk))) for tk in t[some]]
    np.testing.assert_allclose(rad[some], scalar, rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BANDS), st.sampled_from(["boxcar", "smooth"]), st.floats(12.0, 3.0e5))
def test_band_brightness_temperature_round_trip(band, edge, t_k):
    resp = band_response(*band, edge=edge)
    rad = band_mean_spectral_radiance_w_m2_sr_um(resp, t_k)
    assert brightness_temperature_band_k(resp, rad) == pytest.approx(t_k, rel=1e-9)


def test_edge_values():
    resp = band_response("JIRAM", "M")
    out = band_radiance_w_m2_sr(resp, [0.0, -3.0, np.nan])
    assert out[0] == 0.0 and np.isnan(out[1]) and np.isnan(out[2])
    t = brightness_temperature_band_k(resp, np.array([0.0, -1.0, np.nan]))
    assert t[0] == 0.0 and np.isnan(t[1]) and np.isnan(t[2])
    assert np.ndim(brightness_temperature_band_k(resp, 1.0)) == 0


def test_lookup_errors_and_cache():
    assert band_response("JIRAM", "m") is band_response("jiram", "M")
    with pytest.raises(IoscanError, match="JIRAM has no band 'K'"):
        band_response("JIRAM", "K")
    with pytest.raises(RadiometryError, match="NIRC2 has no band"):
        band_response("NIRC2", "Q")
    with pytest.raises(RadiometryError, match="instrument 'MIRI'"):
        band_response("MIRI", "F560W")
    with pytest.raises(RadiometryError, match="edge shape"):
        band_response("NIRC2", "Lp", edge="gaussian")
    with pytest.raises(RadiometryError, match="non-decreasing"):
        BandResponse("x", np.array([4.0, 3.0]), np.array([1.0, 1.0]), 3.5, 1.0)
    with pytest.raises(RadiometryError, match="positive maximum"):
        BandResponse("x", np.array([3.0, 4.0]), np.array([0.0, 0.0]), 3.5, 1.0)


def test_tabulated_response_any_scale():
    """A user-tabulated triangle (peak 40 %) integrates like its normalised shape."""
    lam = np.array([3.0, 3.5, 4.0])
    resp = BandResponse("tri", lam, np.array([0.0, 0.4, 0.0]), center_um=3.5, bandwidth_um=0.5)
    assert resp.equivalent_width_um == pytest.approx(0.5, rel=1e-12)
    ref = quad(
        lambda x: (1 - abs(x - 3.5) / 0.5) * spectral_radiance_w_m2_sr_um(x, 700.0),
        3.0,
        4.0,
        points=[3.5],
        epsrel=1e-12,
    )[0]
    assert band_radiance_w_m2_sr(resp, 700.0) == pytest.approx(ref, rel=1e-9)
