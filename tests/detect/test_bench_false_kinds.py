"""The generalisation benchmark's scoring (``benchmarks/bench_generalise.py``): what a false detection is,
told by the independent renderer's truth (its cosmic-ray pixels, its hot spots, its noise). Detections are
placed by hand where the truth says what they must be."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioscan.simulate.independent import draw_scene, render_scene

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_generalise.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generalise_under_test", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def night():
    """A night frame with hot spots and cosmic-ray hits (the renderer's own draw)."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        r = render_scene(draw_scene(rng, kind="night"))
        t = r.truth[(r.truth["snr_ideal"] >= 20) & ~r.truth["saturated"] & (r.truth["neighbour_px"] >= 10)]
        if len(r.cosmic_rays) and len(t):
            return r
    pytest.skip("no night frame with hits and a clear hot spot in 20 draws")


def _det(sample: float, line: float) -> dict:
    return {"band": "M", "sample": sample, "line": line, "snr": 6.0, "cosmic_ray": False, "mf_snr": 6.0,
            "chi2_dof": 1.0, "flags": 0}  # fmt: skip


def _far_from_everything(bench, r, band="M") -> tuple[float, float]:
    """(sample, line) ≥ 15 px from hot spots, hits, the limb and the frame edges, where the oracle's noise
    S/N is lowest (the background estimate would have to make a peak there)."""
    b = r.bands[band]
    z = {"limb": 8.0, "cr": 15.0, "bright": 15.0}
    ok = np.ones(b.image.shape, bool)
    maps = bench.zone_maps(r, band)
    for k, d in z.items():
        ok &= maps[k] > d
    t = r.truth[r.truth["band"] == band]
    yy, xx = np.mgrid[0 : b.image.shape[0], 0 : b.image.shape[1]]
    for s, ln in zip(t["sample"], t["line"] - b.line_offset, strict=True):
        ok &= np.hypot(xx - s, yy - ln) > 15
    ok[:15], ok[-15:], ok[:, :15], ok[:, -15:] = False, False, False, False
    noise = bench.noise_snr_map(r, band)
    i, j = np.unravel_index(np.argmin(np.where(ok, np.abs(noise), np.inf)), ok.shape)
    return float(j), float(i + b.line_offset)


def test_false_detections_are_told_apart(bench, night):
    r = night
    hit = r.cosmic_rays.iloc[0]
    t = r.truth[(r.truth["snr_ideal"] >= 20) & ~r.truth["saturated"] & (r.truth["neighbour_px"] >= 10)]
    src = t.iloc[0]
    quiet = _far_from_everything(bench, r)
    dets = pd.DataFrame(
        [
            _det(float(src["sample"]), float(src["line"])),  # the hot spot itself: found
            _det(float(src["sample"]) + 3.0, float(src["line"])),  # 3 px beside it: a split
            _det(float(hit["sample"]) + 0.2, float(hit["line"])),  # on a hit pixel
            _det(*quiet),  # no peak in the data there: the background made it
        ]
    )
    found, false, _, _ = bench.score_band(r, "M", dets)
    assert found[list(r.truth.index[r.truth["band"] == "M"]).index(src.name)]
    kinds = false["kind"].tolist()
    assert len(false) == 3
    by_pos = {round(float(s)): k for s, k in zip(false["sample"], false["kind"], strict=True)}
    assert by_pos[round(float(src["sample"]) + 3.0)] == "split_of_source"
    # a hit pixel that happens to lie within 4 px of a hot spot would be a split first: it is not here
    if by_pos.get(round(float(hit["sample"]) + 0.2)) is not None:
        assert by_pos[round(float(hit["sample"]) + 0.2)] in ("cosmic_ray_remnant", "saturated_wing")
    q = false[np.isclose(false["sample"], round(quiet[0], 2))].iloc[0]
    assert abs(q["noise_snr"]) < 4.0
    assert q["kind"] in ("disk_background", "sky_background", "column_artefact"), kinds


def test_noise_peak_is_the_oracles_peak(bench, night):
    """Where the oracle's noise-only S/N map peaks (hot spots, hits and saturation taken out), a detection is
    a noise peak, unless it lies by a hit or a hot spot."""
    r = night
    noise = bench.noise_snr_map(r, "M")
    assert np.isfinite(noise).all()
    # the oracle's noise-only map is unit-variance noise where nothing else is
    zones = bench.zone_maps(r, "M")
    quiet = (zones["cr"] > 5) & (zones["bright"] > 8) & (zones["limb"] > 8)
    assert 0.85 < np.std(noise[quiet]) < 1.15
    f = {"cr_px": 9.0, "saturated_px": np.inf, "saturated_column_px": np.inf, "bright_px": 9.0,
         "source_px": 9.0, "source_snr_ideal": 30.0, "source_found": True, "noise_snr": 4.5, "edge_px": 1.0,
         "limb_px": 50.0, "gain_step_px": np.inf, "on_disk": False}  # fmt: skip
    assert bench.false_kind(f) == "noise_peak"
    assert bench.false_kind({**f, "noise_snr": 2.0}) == "edge_background"
    assert bench.false_kind({**f, "cr_px": 1.0}) == "cosmic_ray_remnant"
    assert bench.false_kind({**f, "source_px": 3.0}) == "split_of_source"
    assert bench.false_kind({**f, "source_px": 3.0, "source_found": False}) == "mislocated"
    assert bench.false_kind({**f, "saturated_column_px": 0.5}) == "saturated_wing"


def test_terminator_misfits_are_told_apart(bench):
    """On a sunlit frame whose terminator is in view, the terminator mask lies on the disk where the true
    sunlit image goes from lit to dark, and a background misfit there (no noise peak, away from the limb and
    the edges) is a terminator misfit; the same away from it stays a disk misfit."""
    rng = np.random.default_rng(11)
    for _ in range(30):
        r = render_scene(draw_scene(rng, kind="day"))
        b = r.bands["M"]
        term = bench.terminator_mask(b)
        zones = bench.zone_maps(r, "M")
        ok = term & (zones["limb"] > 10)
        ok[:5], ok[-5:], ok[:, :5], ok[:, -5:] = False, False, False, False
        if ok.sum() >= 5:
            break
    else:
        pytest.skip("no sunlit frame with a terminator in view in 30 draws")
    i, j = np.argwhere(ok)[0]
    disk = b.on_disk_fraction >= 0.99
    lit = b.sunlit[disk].max()
    near = b.sunlit[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
    assert near.min() < 0.1 * lit <= near.max()  # lit and dark within 2 px
    f = {"cr_px": 9.0, "saturated_px": np.inf, "saturated_column_px": np.inf, "bright_px": 9.0,
         "source_px": 9.0, "source_snr_ideal": 1.0, "source_found": False, "noise_snr": 1.0, "edge_px": 20.0,
         "limb_px": 20.0, "gain_step_px": np.inf, "on_disk": True}  # fmt: skip
    at = float(zones["terminator"][i, j])
    assert bench.false_kind({**f, "terminator_px": at}) == "terminator_background"
    assert bench.false_kind({**f, "terminator_px": 12.0}) == "disk_background"


def test_tracked_view_leaves_out_off_disk_detections(bench, night):
    """A hot spot found only by a detection flagged OFF_DISK is found, but not in the tracker's view (which
    leaves OFF_DISK out); an OFF_DISK false detection is false, but not in the tracker's view."""
    from ioscan.records import DetectionFlag

    r = night
    t = r.truth[(r.truth["band"] == "M") & (r.truth["snr_ideal"] >= 7) & ~r.truth["saturated"]]
    t = t[t["neighbour_px"] >= 6].sort_values("snr_ideal", ascending=False)
    assert len(t) >= 2
    a, b = t.iloc[0], t.iloc[1]
    quiet = _far_from_everything(bench, r)
    off = int(DetectionFlag.OFF_DISK)
    dets = pd.DataFrame(
        [
            _det(float(a["sample"]), float(a["line"])),  # found and kept
            {**_det(float(b["sample"]), float(b["line"])), "flags": off},  # found, left out by the tracker
            {**_det(*quiet), "flags": off},  # false, left out by the tracker
        ]
    )
    found, false, _, found_kept = bench.score_band(r, "M", dets)
    rows = list(r.truth.index[r.truth["band"] == "M"])
    ia, ib = rows.index(a.name), rows.index(b.name)
    assert found[ia] and found[ib]
    assert found_kept[ia] and not found_kept[ib]
    assert len(false) == 1 and bool(false["off_disk_flag"].iloc[0])
    truth = r.truth[r.truth["band"] == "M"].assign(found=found, found_kept=found_kept)
    truth = truth.loc[[a.name, b.name]].assign(neighbour_px=99.0, limb_px=50.0, emission_deg=30.0)
    s = bench.summarise(truth, false, 1, "found", kept_col="found_kept")
    assert s["completeness_snr_ge7"] == 1.0 and s["false_per_frame"] == 1.0
    assert s["tracked_view"] == {
        "completeness_snr_ge7": 0.5,
        "completeness_snr_5_7": None,
        "false_per_frame": 0.0,
    }
