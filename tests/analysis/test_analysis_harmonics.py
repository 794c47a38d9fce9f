"""Spherical harmonics: an orthonormal basis, exact recovery of a smooth map, the degree the data choose."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import sph_harm_y

from ioscan.analysis import grids
from ioscan.analysis.calibration import simulate_census
from ioscan.analysis.coverage import Completeness, Exposure
from ioscan.analysis.harmonics import (
    cross_validated_fit,
    degree_columns,
    fit_coefficients,
    grid_basis,
    sh_basis,
    smoothed_map,
    supported_degree,
)

REF = Completeness.from_values(np.geomspace(0.05, 50.0, 200), "test")


def test_basis_is_orthonormal_on_the_grid_and_matches_scipy():
    b = grid_basis(4)
    w = (grids.cell_areas_km2() / grids.IO_AREA_KM2 * 4 * np.pi).ravel()
    gram = (b * w[:, None]).T @ b
    assert np.abs(gram - np.eye(gram.shape[0])).max() < 2e-3  # 2° midpoint quadrature
    # Y_20 at the north pole is √(5/4π); the m = 2 cosine term is √2 Re Y_22
    assert sh_basis(90.0, 0.0, 2)[0, 6] == pytest.approx(np.sqrt(5 / (4 * np.pi)), rel=1e-3)
    ref = np.sqrt(2) * sph_harm_y(2, 2, np.radians(60.0), np.radians(-30.0)).real
    lat_pg = np.degrees(np.arctan(np.tan(np.radians(30.0)) / (1 - grids.iobody.IO.flattening) ** 2))
    assert sh_basis(lat_pg, 30.0, 2)[0, 8] == pytest.approx(ref, rel=1e-9)


def test_a_degree_2_map_is_recovered_exactly_from_the_seen_cells():
    b = grid_basis(4)
    true = np.zeros(degree_columns(4))
    true[0], true[6], true[8] = 3.0, 1.0, -0.5
    values = b @ true
    lat_c, _ = grids.cell_centres_deg()
    w = np.where(lat_c.ravel() > -40, 1.0, 0.0)  # the south unseen
    coef = fit_coefficients(b, values, w, 4)
    assert coef == pytest.approx(true, abs=1e-9)


def test_coverage_limits_the_supported_degree():
    b = grid_basis(8)
    lat_c, lon_c = grids.cell_centres_deg()
    assert supported_degree(b, np.ones(b.shape[0]), 8) == 8
    cap = ((lat_c > 50) & (lon_c < 90)).ravel().astype(float)
    assert supported_degree(b, cap, 8) < 3


def test_cross_validation_finds_structure_only_where_there_is_some():
    ex = Exposure.uniform()
    rng = np.random.default_rng(0)
    uniform = simulate_census(ex, 400, rng, reference=REF)
    fit = cross_validated_fit(
        uniform["lat_deg"],
        uniform["lon_w_deg"],
        np.ones(len(uniform)),
        ex.exposure_n_km2,
        max_degree=6,
        rng=rng,
    )
    assert fit.degree <= 1
    lat_c, _ = grids.cell_centres_deg()
    polar = 1.0 + 4.0 * (np.abs(lat_c) > 50)  # a strong zonal (even-degree) pattern
    sim = simulate_census(ex, 2000, rng, reference=REF, density_weights=polar)
    fit2 = cross_validated_fit(
        sim["lat_deg"], sim["lon_w_deg"], np.ones(len(sim)), ex.exposure_n_km2, max_degree=6, rng=rng
    )
    assert fit2.degree >= 2
    assert fit2.degree_power[2] > 10 * np.mean(fit2.degree_power[1:2])


def test_smoothed_map_of_a_uniform_population_is_flat_and_corrects_for_coverage():
    ex = Exposure.uniform(completeness=0.5)
    rng = np.random.default_rng(3)
    sim = simulate_census(ex, 20000, rng, reference=REF)
    m, _, _ = smoothed_map(
        sim["lat_deg"], sim["lon_w_deg"], np.ones(len(sim)), ex.exposure_n_km2, sigma_deg=10, scale=1e6
    )
    expect = 20000 / (0.5 * grids.IO_AREA_KM2) * 1e6
    assert np.nanmedian(m) == pytest.approx(expect, rel=0.03)
