"""The second pass's local shortcuts equal the whole-image computations they replace, written out here:
the saturated-neighbourhood test against ``ndimage.binary_dilation`` and the measured model error against
its whole-image masks (bit for bit, on random images with masked pixels and sources over the frame edges)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect.second_pass import (
    measured_model_error,
    measured_model_error_numpy,
    near_saturated,
    near_sources,
)
from ioscan.detect.second_pass_kernels import model_error_ratios


@pytest.mark.parametrize("reach", [1, 2, 5, 9])
def test_near_saturated_is_the_dilated_mask_read_at_the_pixels(reach):
    rng = np.random.default_rng(reach)
    saturated = np.zeros((40, 60), bool)
    saturated[rng.integers(0, 40, 6), rng.integers(0, 60, 6)] = True
    saturated[0, 59] = saturated[39, 0] = True  # at the corners: the diamond cut by the frame
    li, sj = np.mgrid[0:40, 0:60]
    expected = ndimage.binary_dilation(saturated, iterations=reach)
    got = near_saturated(saturated, li.ravel(), sj.ravel(), reach).reshape(40, 60)
    assert expected.sum() > reach  # some pixels are near, and some are not
    assert not expected.all()
    assert np.array_equal(got, expected)


def _model_error_whole_image(left, src, background, usable, noise, x, y, radius_px=3.0) -> float:
    """The measured model error as it was computed: whole-image masks per source."""
    vals = []
    res = left - background
    for xi, yi in zip(x, y, strict=True):
        near = near_sources(np.array([xi]), np.array([yi]), left.shape, radius_px) & usable
        if near.sum() < 5:
            continue
        m2 = float(np.mean(src[near] ** 2))
        if m2 <= 0:
            continue
        excess = float(np.mean(res[near] ** 2) - np.mean(noise[near].astype(float) ** 2))
        vals.append(np.sqrt(max(excess, 0.0) / m2))
    return float(np.median(vals)) if vals else 0.0


class _Model:
    def __init__(self, background, usable, noise):
        self.background, self.usable, self.noise = background, usable, noise


@pytest.mark.parametrize("seed", range(6))
def test_measured_model_error_is_the_whole_image_one(seed):
    rng = np.random.default_rng(seed)
    shape = (50, 70)
    src = np.where(rng.random(shape) < 0.6, rng.lognormal(3, 2, shape), 0.0)
    background = rng.normal(100, 5, shape)
    left = background + src * rng.normal(1, 0.1, shape) + rng.normal(0, 2, shape)
    usable = rng.random(shape) > 0.2
    noise = rng.uniform(1, 3, shape).astype(np.float32)
    x = rng.uniform(-4, shape[1] + 4, 15)
    y = rng.uniform(-4, shape[0] + 4, 15)
    x[0], y[0] = 0.4, 0.6  # a corner: fewer usable pixels
    x[1], y[1] = 69.2, 49.4  # the other corner, with 4 usable pixels: too few, left out
    usable[44:, 64:] = False
    usable[48:, 68:] = True
    got = measured_model_error(left, src, _Model(background, usable, noise), x, y)
    expected = _model_error_whole_image(left, src, background, usable, noise, x, y)
    assert expected > 0.0
    assert np.float64(got).tobytes() == np.float64(expected).tobytes()


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_model_error_is_numpys_with_float32_maps_and_non_finite_residuals(seed):
    """The kernel's means (numpy's pairwise sums) and Python's max on NaN or −0 excess, float32 background and
    noise as the whole-crop models carry them, 8–40 pixels per disk (radius 1.6–3.6 px)."""
    rng = np.random.default_rng(100 + seed)
    shape = (40, 64)
    src = np.where(rng.random(shape) < 0.7, rng.lognormal(2, 2, shape), 0.0)
    background = rng.normal(50, 5, shape).astype(np.float32)
    left = background + src * rng.normal(1, 0.2, shape) + rng.normal(0, 1, shape)
    left[rng.random(shape) < 0.01] = np.nan
    left[rng.random(shape) < 0.005] = np.inf
    usable = rng.random(shape) > 0.15
    noise = rng.uniform(0.5, 2, shape).astype(np.float32)
    x, y = rng.uniform(-3, shape[1] + 3, 25), rng.uniform(-3, shape[0] + 3, 25)
    model = _Model(background, usable, noise)
    for radius in (1.6, 3.0, 3.6):
        got = measured_model_error(left, src, model, x, y, radius)
        want = measured_model_error_numpy(left, src, model, x, y, radius)
        assert np.float64(got).tobytes() == np.float64(want).tobytes()


def test_a_zero_or_nan_excess_is_kept_as_python_max_keeps_it():
    # one source on 9 pixels whose residual equals the noise exactly (excess 0), one on NaN residuals
    shape = (20, 20)
    noise = np.full(shape, 2.0, np.float32)
    left = np.full(shape, 2.0)
    left[10:13, 2:5] = np.nan
    src = np.ones(shape)
    usable = np.ones(shape, bool)
    disk = np.ones((3, 3), bool)
    vals, taken = model_error_ratios(
        left, src, np.zeros(shape), usable, noise, np.array([5, 11]), np.array([5, 3]), disk
    )
    assert taken.tolist() == [True, True]
    assert vals[0] == 0.0 and np.isnan(vals[1])
