"""The simulator's analytic ephemeris: Io's eclipse by Jupiter, checked against CSPICE on its own kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ioscan.simulate import ephemeris as eph

START, STOP = "2024-02-03T00:00:00", "2024-02-05T00:00:00"  # two days: one of Io's 42.5-h eclipses


@pytest.fixture(scope="module")
def occult_codes(tmp_path_factory):
    """(ETs at 2-min steps over two days, CSPICE ``occult``'s code for the Sun behind Jupiter seen from Io at
    each) on the kernels the simulator writes (an independent evaluation: SPICE's own ellipsoid occultation
    on the SPK and PCK, not the formulas of :func:`ephemeris.sunlight_fraction`)."""
    import spiceypy as sp

    from ioscan.geometry.spice_provider import load_kernels, unload_kernels
    from ioscan.simulate.kernels import write_kernel_set

    mk = write_kernel_set(tmp_path_factory.mktemp("ecl"), start_utc=START, stop_utc=STOP)
    load_kernels(mk)
    try:
        ets = np.arange(eph.utc_to_et(START) + 60.0, eph.utc_to_et(STOP) - 60.0, 120.0)
        codes = np.array(
            [
                sp.occult(
                    "SUN", "ELLIPSOID", "IAU_SUN", "JUPITER", "ELLIPSOID", "IAU_JUPITER", "NONE", "IO", et
                )
                for et in ets
            ]
        )
    finally:
        unload_kernels(mk)
    return ets, codes


def test_sunlight_fraction_is_zero_exactly_where_spice_puts_io_in_jupiters_umbra(occult_codes):
    """Over two days at 2-min steps: no sunlight exactly where CSPICE says the Sun is totally occulted
    (−3), full sunlight where it says not occulted (0), within one step at the umbra's edges; the eclipse
    lasts ~2.2 h (Io's umbra crossing: Jupiter's ~143,000-km shadow at 17.3 km/s)."""
    ets, codes = occult_codes
    f = np.array([eph.sunlight_fraction(eph.et_to_utc(et)) for et in ets])
    assert set(codes.tolist()) <= {0, -1, -3}
    dark = f == 0.0
    assert 2.0 <= dark.sum() * 2 / 60 <= 2.5  # hours in the umbra
    assert np.sum(dark != (codes == -3)) <= 2
    assert np.sum((f == 1.0) != (codes == 0)) <= 2
    partial = np.flatnonzero((f > 0.0) & (f < 1.0))
    assert np.all((codes[partial] == -1) | np.isin(partial, _edges(codes)))


def _edges(codes: np.ndarray) -> np.ndarray:
    """Indices next to a change of ``occult``'s code (where a 2-min step can fall either side)."""
    k = np.flatnonzero(np.diff(codes) != 0)
    return np.unique(np.concatenate([k, k + 1]))


def test_penumbra_dims_smoothly_and_lasts_under_a_minute():
    """Across the umbra's entry the visible share of the Sun falls monotonically from 1 to 0 within the
    Sun's angular diameter seen from Io (~0.1°, i.e. ~40 s of Io's orbit)."""
    t0 = eph.utc_to_et(START)
    ets = np.arange(t0, t0 + 2 * 86400.0, 30.0)
    f = np.array([eph.sunlight_fraction(eph.et_to_utc(et)) for et in ets])
    entry = int(np.flatnonzero(f == 0.0)[0])
    fine = np.arange(ets[entry - 4], ets[entry] + 1.0, 1.0)
    g = np.array([eph.sunlight_fraction(eph.et_to_utc(et)) for et in fine])
    assert g[0] == 1.0 and g[-1] == 0.0
    assert np.all(np.diff(g) <= 1e-12)
    partial = np.sum((g > 0.0) & (g < 1.0))
    sun_diameter_rad = 2 * 696000.0 / (5.2 * eph.AU_KM)
    crossing_s = sun_diameter_rad * eph.IO_ORBIT_RADIUS_KM / 17.33  # Io's orbital speed, km/s
    assert 0.5 * crossing_s <= partial <= 2.0 * crossing_s
    assert math.isclose(eph._disk_overlap(1.0, 5.0, 0.0), math.pi)
    assert eph._disk_overlap(1.0, 5.0, 6.5) == 0.0
