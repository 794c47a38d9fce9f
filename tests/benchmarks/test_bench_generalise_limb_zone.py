"""``bench_generalise.py --limb-zone-scale``'s per-frame table (:func:`limb_zone_scale_rows`): the detection's
scale, the scatter of its S/N and what its background leaves, by limb distance, against the independent
renderer's truth. On a clean sunlit disk (Lambert, no albedo texture, no column pattern, no hot spots) the
structure far inside the disk is the background kernel's own noise only, and the S/N scatters as a unit
Gaussian there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ioscan.simulate.independent import render_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_generalise as bench  # noqa: E402


@pytest.fixture(scope="module")
def rows(clean_sunlit_scene) -> dict:
    params = clean_sunlit_scene(60_000.0, 160.0)
    rendered = render_scene(params)
    return {r["bin"]: r for r in bench.limb_zone_scale_rows(rendered, "M", None)}


def test_far_inside_the_structure_is_the_kernels_noise_and_the_snr_unit(rows):
    """Beyond 20 px: the background leaves < 0.5 σ per pixel (the kernel's averaged noise: if the true noise
    were not taken out it would be ≥ 1), and the S/N's robust scatter is 1 ± 0.15."""
    far = rows["gt_20_px"]
    assert far["pixels"] > 2000
    assert far["structure_rms"] < 0.5
    assert far["snr_scatter"] == pytest.approx(1.0, abs=0.15)
    assert far["white_scatter"] == pytest.approx(far["scale"], rel=0.2)


def test_the_limb_bins_are_reported(rows):
    """Every bin from 4 px outside the limb inwards is there, the scale ≥ 1 (white-noise units)."""
    assert {"-4_to_-2_px", "-1_to_0_px", "0_to_1_px", "2_to_4_px", "4_to_8_px"} <= set(rows)
    assert all(r["scale"] >= 1.0 for r in rows.values())
