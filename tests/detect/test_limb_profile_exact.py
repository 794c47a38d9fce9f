"""The limb profile's fast helpers give numpy's own floats, bit for bit (detection's pinned results rely on
it): the row median against ``np.nanmedian`` (signed zeros, infinities, all-NaN rows included), the
per-node normal equations against ``np.add.at``, the per-node medians against the general lexsort."""

from __future__ import annotations

import warnings

import numpy as np

from ioscan.detect.limb_profile import _group_medians, _node_medians, _normal_equations, _row_nanmedian


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


def test_normal_equations_are_add_at_bit_for_bit():
    rng = np.random.default_rng(8)
    node = rng.integers(0, 40, 5000)
    a = rng.normal(size=(5000, 4)) * 10.0 ** rng.integers(-8, 8, (5000, 1))
    b = rng.normal(size=5000) * 10.0 ** rng.integers(-8, 8, 5000)
    want_ata, want_atb = np.zeros((45, 4, 4)), np.zeros((45, 4))
    np.add.at(want_ata, node, a[:, :, None] * a[:, None, :])
    np.add.at(want_atb, node, a * b[:, None])
    ata, atb = _normal_equations(node, a, b, 45)
    assert ata.tobytes() == want_ata.tobytes() and atb.tobytes() == want_atb.tobytes()


def test_node_medians_are_group_medians():
    rng = np.random.default_rng(9)
    node = rng.integers(0, 57, 4000)
    r = np.round(np.abs(rng.normal(size=4000)), 2)  # ties
    for got, want in zip(_node_medians(node, r), _group_medians(node, r), strict=True):
        assert got.tobytes() == want.tobytes()
