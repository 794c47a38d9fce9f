"""The day-side bound benchmark's parts (``benchmarks/bench_dayside_bound.py``): its window re-rendering
against the independent renderer's own true background, its GLS information against a dense solve, the
joint PSF + polynomial fit's filter against the fit it stands for, and its robust local scale."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ioscan.simulate.independent import draw_scene, render_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_dayside_bound as bench  # noqa: E402


class OwnField:
    """The frame's own albedo field as a one-map stack."""

    def __init__(self, albedo) -> None:
        self.albedo = albedo

    def field(self, points_body_km: np.ndarray) -> np.ndarray:
        return self.albedo.field(points_body_km)[None]


@pytest.fixture(scope="module")
def sunlit():
    """A sunlit M-band frame with its disk well in view (the renderer's own draw)."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        r = render_scene(draw_scene(rng, kind="day"))
        if r.illumination == "day" and (r.bands["M"].on_disk_fraction >= 1).sum() > 3000:
            return r
    pytest.skip("no sunlit frame with a large disk in 20 draws")


def test_window_products_reproduce_the_renderers_background(sunlit):
    """The frame's own albedo through the window re-rendering (and the column gains and offsets re-drawn)
    gives the renderer's noise-free background, on the disk, across the limb and at the frame edge."""
    b = sunlit.bands["M"]
    gains, offsets = bench.detector_pattern(sunlit)
    ii, jj = np.nonzero(b.limb_mask)
    disk_i, disk_j = np.argwhere(b.on_disk_fraction >= 1)[len(np.argwhere(b.on_disk_fraction >= 1)) // 2]
    for li, sj in ((disk_i, disk_j), (ii[0], jj[0]), (0, 0)):
        win = bench.Window.around(int(li), int(sj), 10, b.image.shape)
        got = bench.window_products(sunlit, win, OwnField(sunlit.albedo), gains, offsets)[0]
        truth = b.background[win.slices]
        assert np.max(np.abs(got - truth)) <= 1e-9 * np.max(np.abs(truth)) + 1e-15


def test_redrawn_albedos_differ_but_keep_the_texture_statistics(sunlit):
    """Re-drawn maps keep the frame's mean albedo and contrast and give other realisations."""
    maps = bench.redrawn_albedos(sunlit, 3, np.random.default_rng(0)).maps
    assert {m.mean for m in maps} == {sunlit.albedo.mean}
    assert {m.contrast for m in maps} == {sunlit.albedo.contrast}
    assert not np.allclose(maps[0].wavevectors_rad_km, sunlit.albedo.wavevectors_rad_km)


def test_gls_information_matches_a_dense_solve():
    """pᵀΣ⁻¹p by Woodbury (with and without profiled nuisances) equals the dense solve; a texture along p
    itself with a huge variance leaves almost nothing."""
    rng = np.random.default_rng(3)
    n, k = 60, 9
    p = np.exp(-0.5 * ((np.arange(n) - 30) / 1.5) ** 2)
    var = rng.uniform(0.5, 2.0, n)
    dev = rng.normal(size=(k, n)) * 3.0
    sigma = np.diag(var) + dev.T @ dev / k
    assert bench.gls_information(p, var, dev, None) == pytest.approx(p @ np.linalg.solve(sigma, p), rel=1e-9)
    a = np.column_stack([np.ones(n), np.arange(n) / n])
    si_p, si_a = np.linalg.solve(sigma, p), np.linalg.solve(sigma, a)
    b = a.T @ si_p
    want = p @ si_p - b @ np.linalg.solve(a.T @ si_a, b)
    assert bench.gls_information(p, var, dev, a) == pytest.approx(want, rel=1e-9)
    along_p = np.tile(p * 1e4, (4, 1)) * np.array([[1.0], [-1.0], [1.0], [-1.0]])
    assert bench.gls_information(p, var, along_p, None) < 1e-6 * np.sum(p**2 / var)


def test_fit_kernel_is_the_joint_fits_amplitude():
    """The kernel returns the PSF's amplitude exactly whatever polynomial of its degree lies under it."""
    psf = np.zeros((11, 11))
    y, x = np.mgrid[0:11, 0:11]
    psf += np.exp(-0.5 * ((x - 5.2) ** 2 + (y - 4.9) ** 2) / 0.8**2)
    psf /= psf.sum()
    k = bench.fit_kernel(psf, 3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        coef = rng.normal(size=10) * 100
        poly = bench.polynomial_columns(11, 11, 3) @ coef
        assert np.sum(k * (2.5 * psf + poly.reshape(11, 11))) == pytest.approx(2.5, rel=1e-8)


def test_local_scale_follows_the_noise_per_region():
    """The robust local scale of a map of unit noise on one half and 3 × noise on the other is 1 and 3
    (to 10 %) away from the boundary, each limb class apart."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(64, 128))
    z[:, 64:] *= 3.0
    classes = np.full(z.shape, 3, np.int8)
    classes[:, 64:] = 2
    s = bench.local_scale(z, classes)
    assert np.median(s[:, :56]) == pytest.approx(1.0, rel=0.1)
    assert np.median(s[:, 72:]) == pytest.approx(3.0, rel=0.1)
    assert np.median(s[:, 60:64]) == pytest.approx(1.0, rel=0.1)  # classes kept apart at the boundary
