"""Detection's limb edge points and the geometry limb check with their compiled steps (bilinear profiles,
Sobel gradients: ``geometry/limb_kernels.py``) give the numbers of their scipy versions bit for bit, end to
end on the independent renderer's disks (sunlit limb, crescent, and a geometry 3 px off with a shading
template), and the helpers fall back to scipy where the kernels do not apply."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage
from test_limb import _backplanes_of, _render

from ioscan.detect import limb
from ioscan.robust import MAD_TO_SIGMA


def _numpy_paths(monkeypatch):
    monkeypatch.setattr(limb, "_profiles", limb._profiles_numpy)
    monkeypatch.setattr(limb, "_gradients", limb._gradients_numpy)
    monkeypatch.setattr(
        limb, "_linear_at", lambda img, y, x: ndimage.map_coordinates(img, [y, x], order=1, mode="nearest")
    )


def _points_bytes(pts) -> list[bytes]:
    return [np.asarray(getattr(pts, f)).tobytes() for f in ("x", "y", "ux", "uy", "step", "width_px")]


@pytest.mark.parametrize("phase_deg, azimuth_deg", [(30.0, 90.0), (120.0, 0.0)])
def test_edge_points_and_circle_equal_the_scipy_path(monkeypatch, phase_deg, azimuth_deg):
    image = _render(phase_deg=phase_deg, sun_azimuth_deg=azimuth_deg).bands["M"].image
    fast = limb.edge_points(image, 0.8)
    circle = limb.find_limb(image, 0.8)
    with monkeypatch.context() as m:
        _numpy_paths(m)
        slow = limb.edge_points(image, 0.8)
        circle_slow = limb.find_limb(image, 0.8)
    assert len(fast) > 50
    assert _points_bytes(fast) == _points_bytes(slow)
    assert circle is not None and circle_slow is not None
    assert (circle.center_sample, circle.center_line, circle.radius_px, circle.rms_px) == (
        circle_slow.center_sample,
        circle_slow.center_line,
        circle_slow.radius_px,
        circle_slow.rms_px,
    )


@pytest.mark.parametrize("shift_px", [0.0, 3.0])
def test_geometry_check_equals_the_scipy_path(monkeypatch, shift_px):
    frame = _render(phase_deg=40.0, sun_azimuth_deg=90.0)
    image, v = frame.bands["M"].image, frame.params.view
    bp = _backplanes_of(dataclasses.replace(v, center_line_px=v.center_line_px - shift_px))
    d = bp["limb_distance_px"]
    expected = np.where(bp["on_disk"] > 0, np.cos(np.radians(np.nan_to_num(bp["incidence_deg"]))), 0.0)
    for exp in (None, expected):
        off, pts = limb.geometry_limb_offset_px(image, d, 0.8, expected=exp)
        with monkeypatch.context() as m:
            _numpy_paths(m)
            off_slow, pts_slow = limb.geometry_limb_offset_px(image, d, 0.8, expected=exp)
        assert np.isfinite(off) and len(pts) >= 12
        assert off == off_slow and _points_bytes(pts) == _points_bytes(pts_slow)


def test_helpers_fall_back_to_scipy_where_the_kernels_do_not_apply():
    rng = np.random.default_rng(4)
    img = rng.normal(size=(9, 11))
    y, x = np.array([1.5, np.nan, 3.0]), np.array([2.0, 4.0, -3.5])
    ref = ndimage.map_coordinates(img, [y, x], order=1, mode="nearest")
    assert np.array_equal(limb._linear_at(img, y, x), ref, equal_nan=True)  # a NaN position
    as_int = (img * 100).astype(np.int32)  # not a float image
    got = limb._profiles(as_int, np.array([2, 4]), np.array([3, 5]), np.array([0.6, 0.0]),
                         np.array([0.8, 1.0]), np.arange(-2.0, 2.01, 0.5))  # fmt: skip
    ref = limb._profiles_numpy(as_int, np.array([2, 4]), np.array([3, 5]), np.array([0.6, 0.0]),
                               np.array([0.8, 1.0]), np.arange(-2.0, 2.01, 0.5))  # fmt: skip
    assert got.dtype == np.int32 and np.array_equal(got, ref)
    s64 = rng.normal(size=(6, 7))  # float64: scipy's Sobel
    for got, ref in zip(limb._gradients(s64), limb._gradients_numpy(s64), strict=True):
        assert got.dtype == np.float64 and np.array_equal(got, ref)


NOISE_SHAPES = [(128, 432), (130, 434), (34, 66), (18, 18), (4, 4), (129, 433), (125, 431)]


@pytest.mark.parametrize("shape", NOISE_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sampled_laplacian_equals_the_whole_frame_one(shape, dtype):
    """The noise map's Laplacian residuals at the blocks' sampled pixels, made there only, are the whole-frame
    residuals' values in their order (NaN and signed zeros included), and so is the noise map."""
    rng = np.random.default_rng(sum(shape))
    x = (rng.normal(size=shape) * 10.0 ** rng.uniform(-3, 3, size=shape)).astype(dtype)
    x[rng.random(shape) < 0.05] = -0.0
    x[rng.random(shape) < 0.01] = np.nan
    nl, ns = shape
    bl, bs = max(1, (nl - 2) // 16), max(1, (ns - 2) // 16)
    hl, hs = (nl - 2) // bl, (ns - 2) // bs
    whole = limb._laplacian_blocks(x, bl, bs, hl, hs)
    if hl % 2 == 0 and hs % 2 == 0:
        sampled = limb._sampled_laplacian_blocks(x, bl, bs, hl, hs)
        assert sampled.dtype == whole.dtype and sampled.tobytes() == whole.tobytes()
    with np.errstate(invalid="ignore"):
        noise = limb.pixel_noise_map(x)
        out = MAD_TO_SIGMA * limb._block_mad(whole) / np.sqrt(1.25)
    pos = out[out > 0]
    out = np.where(out > 0, out, float(np.median(pos)) if pos.size else 1.0)
    rows = np.clip((np.arange(nl) - 1) // hl, 0, bl - 1)
    cols = np.clip((np.arange(ns) - 1) // hs, 0, bs - 1)
    assert noise.tobytes() == out[rows][:, cols].tobytes()
