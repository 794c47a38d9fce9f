"""The detection limit's smallest pixel scale on the disk (``measure.limits._disk_min``) is what
``np.nanmin`` of the scale with NaN off the disk gives, without the full-frame copy."""

import warnings

import numpy as np

from ioscan.measure.limits import _disk_min


def _reference(values, on_disk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: NaN, with a warning
        return float(np.nanmin(np.where(on_disk, values, np.nan)))


def test_disk_min_is_nanmin_over_the_disk():
    rng = np.random.default_rng(20261207)
    for trial in range(200):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 60)))
        values = rng.uniform(5.0, 50.0, shape)
        values[rng.random(shape) < 0.2] = np.nan
        on_disk = rng.random(shape) < rng.uniform(0.01, 1.0)
        if trial % 5 == 0:
            values[~on_disk] = 1.0  # smaller off the disk: not counted
        if trial % 7 == 0:
            values[on_disk] = np.nan  # every disk value NaN: NaN
        if trial % 11 == 0:
            values[on_disk & (rng.random(shape) < 0.5)] = np.inf
        if not on_disk.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: as np.nanmin, with its warning
            got, want = _disk_min(values, on_disk), _reference(values, on_disk)
        assert got == want or (np.isnan(got) and np.isnan(want)), trial
    assert _disk_min(np.array([[np.inf, 3.0]]), np.array([[True, False]])) == np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(_disk_min(np.array([[np.nan, 3.0]]), np.array([[True, False]])))
