"""Coverage grids: which 2° cells of Io a frame saw, and their compact text form."""

from __future__ import annotations

import numpy as np

from ioscan.geometry.coverage import coverage_grid, decode_grid, encode_grid, is_covered
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.records import LabelGeometry


def test_a_full_disk_covers_the_visible_hemisphere_only():
    geom = LabelGeometry(0.0, 100.0, 0.0, 100.0, 400_000.0, 0.0, 20.0, 128.0, 128.0)
    grid = coverage_grid([backplanes_from_label(geom, 256, 256)], emission_max_deg=80.0)
    assert is_covered(grid, 0.0, 100.0) and is_covered(grid, 40.0, 130.0)
    assert not is_covered(grid, 0.0, 280.0)  # far side
    assert not is_covered(grid, 0.0, 100.0 + 85.0)  # beyond the 80° emission cut
    # about 1 − cos 80° of the sphere's area, counted in cells weighted by cos(latitude)
    lat = np.radians(np.arange(-89.0, 90.0, 2.0))[:, None]
    frac = float((grid * np.cos(lat)).sum() / np.cos(lat).sum() / grid.shape[1])
    assert abs(frac - (1 - np.cos(np.radians(80.0))) / 2) < 0.03


def test_encoding_round_trips_and_is_short():
    rng = np.random.default_rng(1)
    grid = rng.random((90, 180)) < 0.1
    text = encode_grid(grid)
    assert np.array_equal(decode_grid(text), grid)
    assert decode_grid(None) is None and not is_covered(None, 0.0, 0.0)
    assert len(encode_grid(np.zeros((90, 180), bool))) < 100
