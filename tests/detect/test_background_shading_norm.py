"""The shading divisor's soft floor (:func:`ioscan.detect.background.soft_floor`) and the divisor it makes."""

from __future__ import annotations

import numpy as np

from ioscan.detect.background import SHADING_NORM_FLOOR, SHADING_NORM_JOIN, _shading_norm, soft_floor


def test_soft_floor_keeps_the_template_bit_for_bit_above_the_join():
    u = np.random.default_rng(3).uniform(SHADING_NORM_JOIN, 2.0, 10_000)
    assert np.array_equal(soft_floor(u, SHADING_NORM_FLOOR, SHADING_NORM_JOIN), u)


def test_soft_floor_meets_the_template_with_its_slope_and_reaches_the_floor():
    floor, join = SHADING_NORM_FLOOR, SHADING_NORM_JOIN
    h = 1e-7
    below, at, above = soft_floor(np.array([join - h, join, join + h]), floor, join)
    assert at == join
    assert abs((at - below) / h - 1.0) < 1e-5
    assert abs((above - at) / h - 1.0) < 1e-5
    assert np.array_equal(soft_floor(np.array([-3.0, 0.0, np.float64(-0.0)]), floor, join), [floor] * 3)


def test_soft_floor_rises_and_stays_above_floor_and_template():
    u = np.linspace(-0.2, 1.0, 12_001)
    f = soft_floor(u, SHADING_NORM_FLOOR, SHADING_NORM_JOIN)
    assert np.all(np.diff(f) >= 0)
    assert np.all(f >= SHADING_NORM_FLOOR)
    assert np.all(f >= u)


def test_divided_terminator_ramp_has_no_kink():
    """Data falling linearly to 0 with the template (a terminator): divided by the hard floor max(u, 0.1) it
    replaced, the ratio is flat, then bends at u = 0.1 (slope 0 → 10 within one step); divided by the soft
    floor its slope changes by at most a small fraction of that per step over the whole ramp."""
    u = np.linspace(0.0, 0.6, 6001)
    step = u[1] - u[0]
    hard = u / np.maximum(u, 0.1)
    soft = u / soft_floor(u, SHADING_NORM_FLOOR, SHADING_NORM_JOIN)
    bend_hard = np.max(np.abs(np.diff(hard, 2))) / step
    bend_soft = np.max(np.abs(np.diff(soft, 2))) / step
    assert bend_hard > 9.0
    assert bend_soft < 0.1


def test_shading_norm_divides_the_disk_only():
    rng = np.random.default_rng(7)
    shape = (40, 60)
    template = rng.uniform(0.0, 1.2, shape)
    template[0, :5] = np.nan
    side = np.zeros(shape, np.intp)
    side[:, 20:] = 1
    regions = [side == 0, side == 1]
    norm = _shading_norm(template, regions, side)
    assert norm is not None and norm.dtype == np.float32
    assert np.all(norm[side == 0] == 1.0)
    u = np.nan_to_num(template, nan=0.0) / np.percentile(template[side == 1], 90)
    disk = side == 1
    high = disk & (u >= SHADING_NORM_JOIN)
    assert np.array_equal(norm[high], u[high].astype(np.float32))  # as the hard floor left them
    low = disk & (u < SHADING_NORM_JOIN)
    expected = (SHADING_NORM_FLOOR + u * (1 - 2 * SHADING_NORM_FLOOR / SHADING_NORM_JOIN)) + (
        SHADING_NORM_FLOOR / SHADING_NORM_JOIN**2
    ) * u**2
    np.testing.assert_allclose(norm[low], expected[low], rtol=1e-6)
    assert _shading_norm(None, regions, side) is None
    assert _shading_norm(template, [np.ones(shape, bool)], np.zeros(shape, np.intp)) is None
