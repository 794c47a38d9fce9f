"""The draws' summaries' faster steps against the computations they replaced, bit for bit: the longitude
difference's wrap (``positions._wrap_180``) and the ground error added to all summaries at once
(``positions.with_ground_errors``) against each summary's ``with_ground_error``."""

from __future__ import annotations

import numpy as np

from ioscan.measure.positions import _wrap_180, with_ground_error, with_ground_errors


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=float).view(np.int64)


def test_wrap_180_is_the_modulo_bit_for_bit():
    rng = np.random.default_rng(0)
    # what it is given: degrees(lon − lon0), lon in [0°, 360°), lon0 in (−180°, 180°]; and the edges
    edges = [-180.0, np.nextafter(-180.0, -1.0), 180.0, np.nextafter(180.0, 0.0), 540.0 - 1e-13, 0.0, -0.0]
    x = np.concatenate([rng.uniform(-180.0, 540.0, 200_000), edges])
    assert np.array_equal(_bits(_wrap_180(x.copy())), _bits((x + 180.0) % 360.0 - 180.0))
    for other in ([1000.0, -700.0, 5.0], [np.nan, 3.0]):  # outside its exact range: the modulo itself
        y = np.array(other)
        assert np.array_equal(_bits(_wrap_180(y.copy())), _bits((y + 180.0) % 360.0 - 180.0))


def _summary(rng: np.random.Generator) -> dict:
    return {
        "lat_deg": float(rng.uniform(-89.9, 89.9)),
        "lon_w_deg": float(rng.uniform(0.0, 360.0)),
        "lat_err_deg": float(rng.choice([0.0, rng.uniform(0.0, 2.0)])),
        "lon_err_deg": float(rng.choice([0.0, rng.uniform(0.0, 5.0)])),
        "lat_lon_err_corr": float(rng.uniform(-1.0, 1.0)),
        "position_err_km": float(rng.uniform(0.0, 80.0)),
        "emission_deg": float(rng.uniform(0.0, 89.0)),
    }


def test_ground_errors_at_once_are_each_summarys_bit_for_bit():
    rng = np.random.default_rng(1)
    summaries = [None if k % 7 == 3 else _summary(rng) for k in range(300)]
    for ground_km in (0.6, 2.0, 1e-9, 0.0):
        at_once = with_ground_errors(summaries, ground_km)
        assert len(at_once) == len(summaries)
        for g, got in zip(summaries, at_once, strict=True):
            if g is None:
                assert got is None
                continue
            want = with_ground_error(g, ground_km)
            assert got.keys() == want.keys()
            for key, value in want.items():
                assert type(got[key]) is float and np.float64(got[key]).view(np.int64) == np.float64(
                    value
                ).view(np.int64), key
    assert with_ground_errors([None, None], 1.0) == [None, None]


def test_backplane_reads_at_all_points_at_once_are_each_points_own():
    """``_at_points``: one call of the bilinear read (and of its fallback pixels) at all the positions a
    value and its differences need gives each position's own values, also where neighbours are NaN."""
    from ioscan.measure.positions import _at_points, _bilinear, _fallback_pixel

    rng = np.random.default_rng(2)
    lat = rng.uniform(-80.0, 80.0, (40, 60))
    lon = rng.uniform(0.0, 360.0, (40, 60))
    yy, xx = np.mgrid[0:40, 0:60]
    off = np.hypot(yy - 20.0, xx - 30.0) > 17.0  # a disk's edge: NaN off it
    lat[off], lon[off] = np.nan, np.nan
    s, ln = rng.uniform(-1.0, 60.0, 50), rng.uniform(-1.0, 40.0, 50)
    points = [(s, ln), (s + 0.5, ln + 0), (s + 0, ln + 0.5), (s - 0.5, ln - 0), (s - 0, ln - 0.5)]
    for arr, angle in ((lat, False), (lon, True)):
        together = _at_points(_bilinear, arr, points, angle=angle)
        pixels = _at_points(_fallback_pixel, arr, points)
        for k, (ps, pl) in enumerate(points):
            assert np.array_equal(_bits(together[k]), _bits(_bilinear(arr, ps, pl, angle=angle)))
            assert np.array_equal(pixels[k], _fallback_pixel(arr, ps, pl))
        assert np.isnan(together[0]).any() or (np.concatenate(pixels) >= 0).any()  # the edge is read
