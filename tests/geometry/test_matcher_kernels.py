"""The hot-spot matcher's compiled kernels (``geometry/matcher_kernels.py``) give their numpy versions'
results bit for bit and in the same order: the greedy matching, the pairs within reach, the pairs' gains
(``np.logaddexp`` as numpy computes it), the missed-anchor sums, and the whole matcher with every kernel
against the matcher with every numpy version (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from test_matcher_equivalence import PRIOR, STRICT, crowded

import ioscan.geometry.hotspot_registration as hr


def entries(seed: int, *, n_seeds: int, n_pairs: int, n_entries: int, ties: bool):
    """Random greedy inputs: entries (seed, pair) with positive gains (many equal ones when ``ties``),
    pairs in few detection clusters and anchor sources (so that rounds after the first happen)."""
    rng = np.random.default_rng(seed)
    es = rng.integers(0, n_seeds, n_entries)
    ek = rng.integers(0, n_pairs, n_entries)
    keep = np.unique(es * n_pairs + ek, return_index=True)[1]  # a pair once per seed, as the matcher's
    keep = rng.permutation(keep)  # in no particular order
    es, ek = es[keep].astype(np.int64), ek[keep].astype(np.int64)
    gain = rng.choice([0.5, 1.0, 2.0], len(es)) if ties else rng.uniform(0.01, 5.0, len(es))
    ci = rng.integers(0, 7, n_pairs).astype(np.int64)
    sj = rng.integers(0, 11, n_pairs).astype(np.int64)
    return es, ek, gain, ci, sj


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_greedy_kernel_takes_the_numpy_greedys_entries_in_its_order(seed, ties):
    es, ek, gain, ci, sj = entries(seed, n_seeds=40, n_pairs=90, n_entries=3000, ties=ties)
    got = hr._pick(es, ek, gain, ci, sj, 40)
    want = hr._pick_numpy(es, ek, gain, ci, sj, 40)
    assert len(want) > 40  # several pairs per seed
    np.testing.assert_array_equal(got, want)
    # one-to-one: a taken entry's cluster and source are taken once per seed
    key_c = es[got] * 7 + ci[ek[got]]
    key_s = es[got] * 11 + sj[ek[got]]
    assert len(np.unique(key_c)) == len(got) and len(np.unique(key_s)) == len(got)


def test_greedy_kernel_without_entries():
    empty = np.zeros(0, np.int64)
    assert len(hr._pick(empty, empty, np.zeros(0), np.zeros(3, np.int64), np.zeros(3, np.int64), 5)) == 0


def _pair_tables(rng, n_pairs: int = 400, n_seeds: int = 30):
    """Random pair tables (d0, d1, a, b, c, q_max; pair 3 without a position, ~10 % never within), seed
    offsets (px) and 5,000 candidates (seed, pair)."""
    a = rng.uniform(0.01, 1.0, n_pairs)
    c = rng.uniform(0.01, 1.0, n_pairs)
    b = rng.uniform(-0.5, 0.5, n_pairs) * np.sqrt(a * c)
    q_max = np.where(rng.random(n_pairs) < 0.1, -1.0, rng.uniform(0.0, 30.0, n_pairs))
    d = rng.normal(0.0, 10.0, (n_pairs, 2))
    d[3] = np.nan  # a pair without a position: never within
    o = rng.normal(0.0, 10.0, (n_seeds, 2))
    cand_s = rng.integers(0, n_seeds, 5000).astype(np.int64)
    cand_k = rng.integers(0, n_pairs, 5000).astype(np.int64)
    return (d[:, 0].copy(), d[:, 1].copy(), a, b, c, q_max), o, cand_s, cand_k


def test_pairs_within_kernel_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(4)
    tables, o, cand_s, cand_k = _pair_tables(rng)
    got = hr._within(cand_s, cand_k, o, tables)
    want = hr._within_numpy(cand_s, cand_k, o, tables)
    assert 0 < len(want[0]) < len(cand_s)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()


def test_logaddexp_kernel_equals_numpy_bit_for_bit():
    from ioscan.geometry.matcher_kernels import _logaddexp

    rng = np.random.default_rng(6)
    x, y = rng.normal(0.0, 30.0, 20000), rng.normal(0.0, 30.0, 20000)
    y[::5] = x[::5]  # equal arguments: numpy adds ln 2
    special = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e300, -1e300]
    x = np.concatenate([x, np.repeat(special, len(special))])
    y = np.concatenate([y, np.tile(special, len(special))])
    got = np.array([_logaddexp(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)])
    with np.errstate(invalid="ignore", over="ignore"):
        want = np.logaddexp(x, y)
    assert got.tobytes() == want.tobytes()


def test_pairs_gain_kernel_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(7)
    n_pairs = 400
    within, o, cand_s, cand_k = _pair_tables(rng, n_pairs)
    frac = rng.choice([0.0, 0.05, 0.3], n_pairs)  # no tail: lt0 = ln 1e-300
    tail2 = rng.uniform(1.0, 25.0, n_pairs)
    lc0 = np.log1p(-frac) - rng.uniform(0.0, 3.0, n_pairs)
    lt0 = np.log(np.maximum(frac, 1e-300)) - rng.uniform(0.0, 4.0, n_pairs)
    gain0 = rng.uniform(-1.0, 6.0, n_pairs)  # some gains ≤ 0 even within reach
    tables = (*within, lc0, lt0, tail2, gain0)
    got = hr._scored(cand_s, cand_k, o, tables)
    want = hr._scored_numpy(cand_s, cand_k, o, tables)
    within = hr._within_numpy(cand_s, cand_k, o, tables[:6])
    assert 0 < len(want[0]) < len(within[0])  # some within reach score ≤ 0
    assert np.all(want[3] > 0)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()


def test_missed_kernel_equals_numpy_bit_for_bit():
    prob = crowded(3, n_anchors=50, n_bands=2, sigma_px=4.0)  # anchors facing away (NaN) in one band
    rng = np.random.default_rng(5)
    o = rng.normal(0.0, [5.0, 60.0], (300, 2))
    # offsets that put an anchor exactly on a band's edge (−0.5 and n − 0.5 are inside)
    x0, y0 = prob.anc_xy[0, 0]
    o[:4] = [[-0.5 - x0, 0.0], [prob.band_shape[0, 0] - 0.5 - x0, 0.0], [0.0, -0.5 - y0], [0.0, 1e6]]
    got, want = hr._missed(prob, o), hr._missed_numpy(prob, o)
    assert got.tobytes() == want.tobytes()
    assert len(np.unique(want)) > 10
    assert hr._missed(prob, o[5]) == hr._missed_numpy(prob, o[5])


def same_bits(a, b, path: str = "registration") -> None:
    """Every field of two results equal bit for bit (arrays by their bytes, floats exactly)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, path
        assert a.tobytes() == b.tobytes() if a.dtype != object else list(a) == list(b), path
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            same_bits(x, y, f"{path}[{k}]")
    elif hasattr(a, "__dict__"):
        for k in vars(a):
            same_bits(getattr(a, k), getattr(b, k), f"{path}.{k}")
    else:
        assert a == b or (a != a and b != b), path


@pytest.mark.parametrize(
    ("seed", "n_anchors", "n_bands", "sigma_px", "kw"),
    [(1, 40, 1, 4.0, {}), (2, 50, 1, 8.0, {}), (3, 50, 2, 4.0, STRICT), (4, 30, 2, 12.0, STRICT)],
)
def test_matcher_with_kernels_equals_matcher_with_numpy_bit_for_bit(
    seed, n_anchors, n_bands, sigma_px, kw, monkeypatch
):
    prob = crowded(seed, n_anchors=n_anchors, n_bands=n_bands, sigma_px=sigma_px)
    got = hr.match_offsets(prob, PRIOR, **kw)
    monkeypatch.setattr(hr, "_pick", hr._pick_numpy)
    monkeypatch.setattr(hr, "_within", hr._within_numpy)
    monkeypatch.setattr(hr, "_scored", hr._scored_numpy)
    monkeypatch.setattr(hr, "_missed", hr._missed_numpy)
    want = hr.match_offsets(prob, PRIOR, **kw)
    assert len(want.modes) > 1
    same_bits(got, want)


def kd_tree_pairs(queries: np.ndarray, points: np.ndarray, radius: float) -> set:
    """(query, point) within ``radius``, as the k-d trees the grid replaced found them."""
    from scipy.spatial import cKDTree

    hits = cKDTree(queries).sparse_distance_matrix(cKDTree(points), radius, output_type="ndarray")
    return set(zip(hits["i"].tolist(), hits["j"].tolist(), strict=True))


@pytest.mark.parametrize(("seed", "spread", "radius"), [(1, 40.0, 3.0), (2, 150.0, 8.0), (3, 5.0, 0.7)])
def test_grid_lookup_finds_what_the_kd_trees_found(seed, spread, radius):
    from ioscan.geometry.matcher_kernels import grid_cells, grid_near

    rng = np.random.default_rng(seed)
    points = np.vstack([rng.normal(0.0, spread, (400, 2)), rng.normal(10.0, 1.0, (50, 2))])  # a dense knot
    queries = np.vstack([rng.normal(0.0, spread, (200, 2)), points[:20], [[1e4, -1e4]]])  # on points, far off
    x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    for cell in (radius, hr._grid_cell(x, y, 0.05)):  # the lookup's own cell, and one enlarged by the cap
        grid = grid_cells(x, y, cell)
        qx, qy = np.ascontiguousarray(queries[:, 0]), np.ascontiguousarray(queries[:, 1])
        qi, k = grid_near(qx, qy, x, y, cell, *grid, radius)
        got = list(zip(qi.tolist(), k.tolist(), strict=True))
        assert len(got) == len(set(got))  # each pair once
        assert set(got) == kd_tree_pairs(queries, points, radius)
        assert len(got) > 100
    assert hr._grid_cell(x, y, 0.05) > 0.05  # the cap enlarged it
    nx_ny = grid_cells(x, y, hr._grid_cell(x, y, 0.05))[2:4]
    assert nx_ny[0] * nx_ny[1] <= max(hr.GRID_CELLS_PER_PAIR * len(x), hr.GRID_MIN_CELLS)


def test_pair_index_finds_the_pairs_within_reach_of_each_offset():
    prob = crowded(2, n_anchors=50, sigma_px=8.0)
    pairs = hr._pair_tables(prob, -8.0)
    index = hr._PairIndex(pairs)
    offsets = np.random.default_rng(5).uniform([-8, -140], [8, 140], (300, 2))
    i, k = index.near(offsets, 0.5)
    got = set(zip(i.tolist(), k.tolist(), strict=True))
    want = set()
    for _, members, reach in index.classes:
        want |= {(a, int(members[b])) for a, b in kd_tree_pairs(offsets, pairs.d[members], reach + 0.5)}
    assert got == want and len(got) == len(i)
    # every pair of positive gain at an offset is among them
    q = pairs.q_form(
        np.arange(len(pairs.d))[None],
        pairs.d[None, :, 0] - offsets[:, :1],
        pairs.d[None, :, 1] - offsets[:, 1:],
    )
    positive = set(zip(*np.nonzero(q <= pairs.q_max[None]), strict=True))
    assert positive <= got


def test_gain_root_bounds_the_root_from_above_within_its_bracket():
    rng = np.random.default_rng(3)
    n = 5000
    lc0 = rng.uniform(-6.0, 1.0, n)
    lt0 = lc0 + rng.uniform(-6.0, -1.0, n)
    tail2 = rng.uniform(1.0, 30.0, n)
    gain0 = rng.uniform(-2.0, 12.0, n)
    q_max = hr._gain_root(lc0, lt0, tail2, gain0)

    def gain(q, k=slice(None)):
        return gain0[k] + np.logaddexp(lc0[k] - 0.5 * q, lt0[k] - 0.5 * q / tail2[k])

    never = q_max < 0
    assert 0 < never.sum() < n and np.all(gain(0.0)[never] <= 0)
    ok = ~never
    assert np.all(gain(q_max[ok], ok) <= 0)  # at and beyond it nothing is positive: no pair is cut off
    lo, hi = np.zeros(ok.sum()), np.full(ok.sum(), 2.0 * 30.0 * 20.0)  # the root, by 60 bisections
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        pos = gain(mid, ok) > 0
        lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    width = 2.0 * np.log(2.0) * np.maximum(1.0, tail2[ok])  # the bracket's width at most
    assert np.all(q_max[ok] >= hi - 1e-9)
    assert np.all(q_max[ok] - hi <= width * 2.0**-hr.GAIN_ROOT_STEPS + 1e-6 * (1.0 + hi))
