"""Beuthe's angular functions in closed form against a numerical orbit average, the end-member patterns,
and the comparison on simulated populations drawn from each pattern."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.analysis import grids
from ioscan.analysis.calibration import simulate_census
from ioscan.analysis.coverage import Completeness, Exposure
from ioscan.analysis.tidal import MEANS, compare_patterns, pattern, pattern_properties, psi_functions

WEIGHTS = {"deep_mantle": (2 / 3, 0.0, 1.0), "asthenosphere": (0.0, 1.0, 0.0)}
REF = Completeness.from_values(np.geomspace(0.05, 50.0, 200), "test")


def _numeric_psi(theta, phi, n_orbit=64, h=1e-4):
    """Orbit-averaged U², |∇U|² and |∇∇U + 3U g|² by brute force: the eccentricity-tide potential on the unit
    sphere at n_orbit mean anomalies, derivatives by central differences, the covariant Hessian in the
    orthonormal (θ, φ) frame."""

    def u(t, p, m):
        p20 = 0.5 * (3 * np.cos(t) ** 2 - 1)
        p22 = 3 * np.sin(t) ** 2
        return -1.5 * p20 * np.cos(m) + 0.25 * p22 * (
            3 * np.cos(m) * np.cos(2 * p) + 4 * np.sin(m) * np.sin(2 * p)
        )

    out = np.zeros(3)
    for m in np.linspace(0, 2 * np.pi, n_orbit, endpoint=False):
        f0 = u(theta, phi, m)
        ft = (u(theta + h, phi, m) - u(theta - h, phi, m)) / (2 * h)
        fp = (u(theta, phi + h, m) - u(theta, phi - h, m)) / (2 * h)
        ftt = (u(theta + h, phi, m) - 2 * f0 + u(theta - h, phi, m)) / h**2
        fpp = (u(theta, phi + h, m) - 2 * f0 + u(theta, phi - h, m)) / h**2
        ftp = (
            u(theta + h, phi + h, m)
            - u(theta + h, phi - h, m)
            - u(theta - h, phi + h, m)
            + u(theta - h, phi - h, m)
        ) / (4 * h * h)
        s, c = np.sin(theta), np.cos(theta)
        h_tt, h_pp, h_tp = ftt, fpp / s**2 + c / s * ft, (ftp - c / s * fp) / s
        out += [f0**2, ft**2 + (fp / s) ** 2, (h_tt + 3 * f0) ** 2 + (h_pp + 3 * f0) ** 2 + 2 * h_tp**2]
    return out / n_orbit


@pytest.mark.parametrize(
    ("lat_pc", "lon"), [(60, 0), (45, 30), (0, 0), (0, 45), (-30, 120), (10, 200), (80, 300)]
)
def test_closed_forms_equal_a_numerical_orbit_average(lat_pc, lon):
    lat_pg = np.degrees(np.arctan(np.tan(np.radians(lat_pc)) / (1 - grids.iobody.IO.flattening) ** 2))
    ours = np.array(psi_functions(lat_pg, lon))
    ref = _numeric_psi(np.radians(90 - lat_pc), np.radians(lon))
    assert ours == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_sphere_means_follow_the_degree_2_identities():
    la, lo = grids.cell_centres_deg(1.0)
    w = grids.cell_areas_km2(1.0)
    means = [np.sum(p * w) / np.sum(w) for p in psi_functions(la, lo)]
    assert means == pytest.approx([MEANS["A"], MEANS["B"], MEANS["C"]], rel=2e-3)
    assert MEANS["B"] == pytest.approx(6 * MEANS["A"]) and MEANS["C"] == pytest.approx(12 * MEANS["A"])
    for w_ in WEIGHTS.values():
        p = pattern(w_, la, lo)
        assert np.sum(p * w) / np.sum(w) == pytest.approx(1.0, rel=2e-3)


def test_end_members_have_the_published_qualitative_shapes():
    deep, asth = pattern_properties(WEIGHTS["deep_mantle"]), pattern_properties(WEIGHTS["asthenosphere"])
    assert deep["pole_over_mean"] > 2.0 and abs(deep["max_at_lat_deg"]) > 85  # polar maxima (Segatz model A)
    assert deep["min_over_mean"] < 0.15 and abs(deep["min_at_lat_deg"]) < 2  # minima on the equator …
    assert min(deep["min_at_lon_w_deg"] % 180, 180 - deep["min_at_lon_w_deg"] % 180) < 2  # … at 0° or 180°W
    assert asth["pole_over_mean"] < 1e-6 and abs(asth["max_at_lat_deg"]) < 40  # low latitudes (model B)


@pytest.mark.parametrize("truth", ["deep_mantle", "asthenosphere", None])
def test_comparison_finds_the_pattern_a_population_was_drawn_from(truth):
    ex = Exposure.uniform()
    rng = np.random.default_rng(11)
    lat_c, lon_c = grids.cell_centres_deg()
    weights = pattern(WEIGHTS[truth], lat_c, lon_c) if truth else None
    sim = simulate_census(ex, 250, rng, reference=REF, density_weights=weights)
    res = compare_patterns(
        sim["lat_deg"],
        sim["lon_w_deg"],
        np.ones(len(sim)),
        ex.exposure_n_km2,
        WEIGHTS,
        n_simulations=200,
        n_bootstrap=200,
        rng=rng,
    )
    assert res["verdict"] == (truth or "neither")
