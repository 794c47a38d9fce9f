"""benchmarks/bench_second_pass.py --windows: the second backgrounds of the captured ``search_again`` calls,
their windows against their bounding box and the pixels the subtraction changed, counted consistently."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ioscan.detect import DetectConfig, default_psf
from ioscan.instruments import jiram
from ioscan.records import BandImage, Frame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_second_pass  # noqa: E402

PSF = default_psf("JIRAM", 4.78)
SHAPE = (128, 432)


def _frame(seed: int) -> Frame:
    """Four bright hot spots (S/N ~1,000) 110 px apart on white noise σ = 1, each with a faint neighbour
    (S/N ~15) 4 px away: four windows, apart."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    one, _, _ = PSF.stamps(xx[None, :1, :], yy[None, :, :1], np.array([216.0]), np.array([64.0]))
    norm = float(np.sqrt(np.sum(one[0] ** 2)))  # (S/N of a unit flux on σ = 1: √Σp²)
    img = 5.0 + rng.normal(0.0, 1.0, SHAPE)
    for x, y, snr in ((60, 64, 1000), (64, 64, 15), (170, 60, 1000), (170, 56, 15), (280, 70, 1000),
                      (276, 70, 15), (390, 64, 1000), (390, 68, 15)):  # fmt: skip
        p, _, _ = PSF.stamps(xx[None, :1, :], yy[None, :, :1], np.array([x + 0.3]), np.array([y - 0.2]))
        img += snr / norm * p[0]
    band = BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, jiram.M_BAND.bandwidth_um)
    return Frame("T", "JIRAM", "JUNO", "2022-01-01T00:00:00", 0.1, {"M": band})


def test_windows_study_counts_consistently():
    cap = bench_second_pass.capture([(_frame(1), None, DetectConfig())])
    assert cap["n_frames"] == 1 and cap["search_again"]
    out = bench_second_pass.windows_study(cap, rounds=1)
    rows = out["rows"]
    assert out["backgrounds"] == len(rows) >= 1
    for r in rows:
        assert r["changed_px"] <= r["changed_reach_px"] <= r["crop_px"]
        if "windows" in r:
            assert r["windows_px"] <= r["box_px"] <= r["crop_px"]
    assert out["several_windows"]["calls"] == sum(r.get("windows", 0) > 1 for r in rows) == 1
    assert [r["windows"] for r in rows] == [4]  # (one window per bright hot spot, none overlapping)
    assert (
        out["several_windows"]["ms_per_frame_apart_median"] > 0
        and out["several_windows"]["ms_per_frame_box_median"] > 0
    )
    assert out["windowed"]["calls"] + out["whole_crop"]["calls"] == len(rows)
