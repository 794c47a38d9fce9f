"""BlockScale's per-block order statistics equal a direct sort of each block's selected pixels, bit for bit
(blocks fully selected come from |z| sorted once, the others are sorted per call)."""

import numpy as np

from ioscan.detect.background import BlockScale


def _direct(z, zone_map, ok, n_regions, b, quantile, factor):
    nl, ns = z.shape
    nbl, nbs = -(-nl // b), -(-ns // b)
    med = np.full((n_regions, nbl * nbs), np.nan, np.float32)
    for k in range(n_regions):
        for i in range(nbl):
            for j in range(nbs):
                blk = (slice(i * b, (i + 1) * b), slice(j * b, (j + 1) * b))
                v = np.abs(z[blk])[ok[blk] & (zone_map[blk] == k) & np.isfinite(z[blk])]
                if v.size:
                    q = np.sort(v)[int(np.floor(quantile * (v.size - 1)))]
                    med[k, i * nbs + j] = np.float32(factor) * q
    return med


def test_block_stats_match_direct_sort():
    rng = np.random.default_rng(5)
    z = rng.standard_t(3, size=(61, 45)).astype(np.float32)  # blocks of 8 do not tile it: padded blocks
    z[rng.random(z.shape) < 0.01] = np.nan
    zone_map = np.zeros(z.shape, np.intp)
    zone_map[20:50, 10:40] = 1
    zone_map[rng.random(z.shape) < 0.02] += 2
    for quantile in (0.5, 0.9):
        bs = BlockScale(z, zone_map, 4, 8, quantile=quantile)
        ok = rng.random(z.shape) < 0.97
        for sel in (np.ones(z.shape, bool), ok, ok & (rng.random(z.shape) < 0.9)):
            med, _ = bs._stats(bs._zone(sel), None)
            assert np.array_equal(med, _direct(z, zone_map, sel, 4, 8, quantile, bs.factor), equal_nan=True)
            bs.scale(sel)  # the incremental path (changed blocks only) stays consistent with a fresh map
            fresh = BlockScale(z, zone_map, 4, 8, quantile=quantile).scale(sel)
            assert np.array_equal(bs.scale(sel), fresh)


def test_best_phase_is_first_maximum():
    from ioscan.detect.background import _best_phase

    rng = np.random.default_rng(8)
    s = [np.round(rng.normal(size=(40, 30)), 1).astype(np.float32) for _ in range(4)]  # many ties
    phase, top = _best_phase(s)
    assert phase.dtype == np.intp
    assert np.array_equal(phase, np.argmax(np.stack(s), axis=0))
    assert np.array_equal(top, np.max(np.stack(s), axis=0))
    s[2][3, 4] = np.nan  # NaN: as the sequential comparisons always did (later phases never beat a NaN)
    phase, top = _best_phase(s)
    want = 0 if s[1][3, 4] <= s[0][3, 4] else 1
    assert phase[3, 4] == want and np.isnan(top[3, 4])


def _scale_one_grid_at_a_time(bs, ok, floor=1.0, min_fraction=0.25):
    """BlockScale.scale as first written: each region's 3 × 3 block average filtered alone."""
    from scipy import ndimage

    from ioscan.robust import finite_median

    b, nbl, nbs = bs.b, bs.nbl, bs.nbs
    zone = bs._zone(ok)
    med_all, n_all = bs._stats(zone, None)
    grids = np.full((bs.n_regions + 1, nbl, nbs), floor, np.float32)
    for k in range(bs.n_regions):
        if not (zone == k).any():
            continue
        med, n_ok = med_all[k].reshape(nbl, nbs), n_all[k].reshape(nbl, nbs)
        good = n_ok >= b * b * min_fraction
        if good.any():
            fill = finite_median(med[good])
        else:
            fill = bs.factor * float(np.quantile(np.abs(bs.z[ok & (bs.side == k)]), bs.quantile))
        med = np.where(good, med, fill)
        avg = ndimage.uniform_filter(med, size=3, mode="nearest")
        grids[k] = np.maximum(np.maximum(avg, 0.8 * med), floor)
    return np.maximum(np.take(grids, bs.layout.index), floor)


def test_scale_filters_all_regions_at_once_as_one_at_a_time():
    rng = np.random.default_rng(9)
    for shape, b in (((61, 45), 8), ((128, 295), 8), ((40, 52), 13)):
        z = (rng.standard_t(3, size=shape) * rng.uniform(0.5, 3.0, size=shape)).astype(np.float32)
        zone_map = np.zeros(shape, np.intp)
        zone_map[shape[0] // 3 :, shape[1] // 4 :] = 1
        zone_map[rng.random(shape) < 0.05] += 2
        zone_map[:, :3] = 5  # no region: the floor
        ok = rng.random(shape) < 0.9
        for floor, frac in ((1.0, 0.25), (0.0, 0.125)):
            got = BlockScale(z, zone_map, 4, b).scale(ok, floor=floor, min_fraction=frac)
            want = _scale_one_grid_at_a_time(BlockScale(z, zone_map, 4, b), ok, floor, frac)
            assert np.array_equal(got, want)
