"""Mosaic reprojection: the whole visible cap filled at any resolution, the best view wins each cell."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.analysis.mosaic import _grid, _samples
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.records import LabelGeometry


def _view(scale_km: float, n: int, sub_lat: float = 0.0, sub_lon: float = 100.0):
    geom = LabelGeometry(sub_lat, sub_lon, 0.0, sub_lon, 7e8, 0.0, scale_km, (n - 1) / 2, (n - 1) / 2)
    return backplanes_from_label(geom, n, n, "2024-01-01T00:00:00")


def _cap_fraction(e_max_deg: float, range_km: float = 7e8, r_km: float = 1821.5) -> float:
    # spherical cap whose emission angle is below e_max as seen from a distant observer: central angle γ with
    # e = γ + asin(R sin γ / d) ≈ γ
    return (1 - np.cos(np.radians(e_max_deg))) / 2


@pytest.mark.parametrize(("scale_km", "n"), [(60.0, 80), (15.0, 280)])
def test_a_full_disk_fills_the_visible_cap_without_holes(scale_km, n):
    bp = _view(scale_km, n)
    values = np.ones(bp.shape)
    s = _samples(values, bp, 0.5, 80.0)
    value, emis, scale, index = _grid([s], 0.5)
    lat = np.linspace(-89.75, 89.75, 360)
    w = np.cos(np.radians(lat))[:, None] * np.ones(value.shape)
    filled = np.sum(w * np.isfinite(value)) / np.sum(w)
    assert filled == pytest.approx(_cap_fraction(80.0), abs=0.01)
    assert np.nanmax(emis) < 80.0 and (index[np.isfinite(value)] == 0).all()


def test_each_cell_takes_the_finest_view():
    coarse, fine = _view(60.0, 80, sub_lon=100.0), _view(5.0, 200, sub_lon=100.0)
    s1 = _samples(np.full(coarse.shape, 1.0), coarse, 0.5, 80.0)
    s2 = _samples(np.full(fine.shape, 2.0), fine, 0.5, 80.0)
    value, _, scale, index = _grid([s1, s2], 0.5)
    # the fine frame sees a 1000 km patch around (0°, 100°W): there it wins, elsewhere the coarse frame
    i, j = 180, 200  # cell at 0–0.5°N, 100–100.5°W
    assert value[i, j] == 2.0 and index[i, j] == 1 and scale[i, j] == pytest.approx(5.0, rel=0.01)
    i2, j2 = 180, 300  # 150°W: only the coarse frame
    assert value[i2, j2] == 1.0 and index[i2, j2] == 0
