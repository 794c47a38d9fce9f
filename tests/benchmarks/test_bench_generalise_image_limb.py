"""``bench_generalise.py --by-image-limb``: which limb circle the image shows (:func:`image_limb_status`,
against the independent renderer's true disk) and the completeness table by it (:func:`image_limb_table`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioscan.simulate.independent import render_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_generalise as bench  # noqa: E402


def test_a_clean_sunlit_disk_shows_its_right_limb(clean_sunlit_scene):
    """A clean Lambert disk whose limb crosses the frame: the circle find_limb sees is the true one (radius
    and centre within 2 px), and the true radius is reported."""
    rendered = render_scene(clean_sunlit_scene(60_000.0, 160.0))
    got = bench.image_limb_status(rendered, "M")
    true_radius = bench.true_limb_circle(rendered, "M")[2]
    assert got["image_limb"] == "right"
    assert got["disk_radius_px"] == pytest.approx(true_radius, abs=0.1)


def _truth(rows: list[tuple[str, float, float, bool, float]]) -> pd.DataFrame:
    """Truth rows (image_limb, limb_px, disk radius px, found, S/N), isolated, one frame each."""
    return pd.DataFrame(
        [
            dict(
                image_limb=s, limb_px=d, disk_radius_px=r, found=f, snr_ideal=snr, neighbour_px=10.0, frame=i
            )
            for i, (s, d, r, f, snr) in enumerate(rows)
        ]
    )


def test_the_table_counts_by_status_limb_distance_and_radius():
    """Within / beyond 8 px of the limb per status, the right circle's split by disk radius, S/N < 7 and
    close neighbours left out."""
    t = _truth(
        [
            ("right", 2.0, 30.0, True, 9.0),
            ("right", -3.0, 30.0, False, 12.0),
            ("right", 20.0, 150.0, True, 50.0),
            ("right", 5.0, 150.0, True, 5.0),  # S/N < 7: not counted
            ("none", 1.0, np.nan, False, 8.0),
            ("wrong_trusted", 30.0, 80.0, False, 20.0),
        ]
    )
    t.loc[len(t)] = dict(t.iloc[0], neighbour_px=2.0, found=False)  # a close-pair member: not counted
    got = bench.image_limb_table(t)
    assert got["right"]["within_8px"] == [2, 0.5]
    assert got["right"]["beyond_8px"] == [1, 1.0]
    assert got["none"]["within_8px"] == [1, 0.0]
    assert got["wrong_trusted"]["beyond_8px"] == [1, 0.0]
    assert got["wrong_untrusted"]["within_8px"] == [0, None]
    assert got["right_disk_radius_0_40_px"]["within_8px"] == [2, 0.5]
    assert got["right_disk_radius_100_200_px"]["beyond_8px"] == [1, 1.0]
    assert got["right_disk_radius_100_200_px"]["frames"] == 1
