"""The limb profile's fast helpers give numpy's own floats, bit for bit (detection's pinned results rely on
it): the row median against ``np.nanmedian`` (signed zeros, infinities, all-NaN rows included) and the
per-node sums against ``np.add.at``."""

from __future__ import annotations

import warnings

import numpy as np

from ioscan.detect.limb_profile import _row_nanmedian, _sum_by_node


def test_row_nanmedian_is_numpys_nanmedian_bit_for_bit():
    rng = np.random.default_rng(7)
    for trial in range(600):
        v = rng.normal(size=(int(rng.integers(1, 30)), int(rng.integers(1, 25))))
        if trial % 3 == 0:
            v = np.round(v, 0)  # many ties, and zeros of both signs
        v[rng.random(v.shape) < rng.random()] = np.nan
        if trial % 5 == 0:
            v[0] = np.nan
        if trial % 7 == 0:
            v[rng.random(v.shape) < 0.05] = np.inf
        if trial % 11 == 0:
            v[rng.random(v.shape) < 0.05] = -np.inf
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(v, axis=1)
            got = _row_nanmedian(v)
        assert got.tobytes() == want.tobytes()


def test_sum_by_node_is_add_at_bit_for_bit():
    rng = np.random.default_rng(8)
    node = rng.integers(0, 40, 5000)
    a = rng.normal(size=(5000, 4)) * 10.0 ** rng.integers(-8, 8, (5000, 1))
    for values in (a[:, :, None] * a[:, None, :], a * rng.normal(size=(5000, 1))):
        want = np.zeros((45,) + values.shape[1:])
        np.add.at(want, node, values)
        assert _sum_by_node(node, values, 45).tobytes() == want.tobytes()
