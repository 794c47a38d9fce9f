"""``benchmarks/limbfit_phases.py``: the limb fit's calls captured from ``register_on_limb`` and replayed as
navigation chooses its band give navigation's registration, with each phase's time and the fit's kind."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from disk_frames import shifted_disk_frame
from ioscan.geometry import limbfit
from ioscan.geometry.navigate import navigate_frame
from ioscan.records import Frame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import limbfit_phases as lp  # noqa: E402


def _frame(blank: bool) -> Frame:
    return shifted_disk_frame(blank)


def test_the_replay_registers_as_navigation_does_and_times_every_phase():
    frame = _frame(blank=False)
    nav = navigate_frame(frame, register=False)
    calls = lp.frame_calls(frame, nav)
    assert nav.registered and [name for name, _ in calls] == ["Lp"]
    saved = {name: getattr(limbfit, name) for name in (*lp.PHASES.values(), *lp.INNER.values())}
    with lp._Phases(limbfit) as phases:
        rows, reg = lp._register(limbfit, {"product": frame.product_id, "calls": calls}, phases)
    assert all(getattr(limbfit, name) is fn for name, fn in saved.items())  # the module as it was
    band, fit = reg
    assert band == nav.limb_band == "Lp"
    assert (fit.offset_sample_px, fit.offset_line_px) == nav.offset_px  # the same fit, bit for bit
    (row,) = rows
    assert row["kind"] == "registered" and row["radius"] > 40
    assert all(row[k] > 0 for k in ("start", "model", "prepare", "coarse", "refine", "measure_edges"))
    assert row["start"] >= row["prepare"] + row["coarse"]


def test_a_blank_frame_is_a_failed_fit_of_its_kind():
    frame = _frame(blank=True)
    calls = lp.frame_calls(frame, navigate_frame(frame, register=False))
    with lp._Phases(limbfit) as phases:
        rows, reg = lp._register(limbfit, {"product": frame.product_id, "calls": calls}, phases)
    assert reg is None and [row["kind"] for row in rows] == ["coarse_failed"]
    assert "refine" not in rows[0]


def test_each_call_carries_its_coarse_snr_and_the_lazy_rule_skips_a_second_band_after_a_good_fit():
    frame = _frame(blank=False)
    # a second band with the same image (its own noise): navigation starts both, refines both (neither is
    # weak), keeps the first; "prepare the second only while no good registration is in" skips it
    (band,) = frame.bands.values()
    noisy = band.data + np.random.default_rng(4).normal(0, 0.01, band.data.shape).astype(np.float32)
    frame.bands["Lp2"] = dataclasses.replace(band, data=noisy)
    nav = navigate_frame(frame, register=False)
    calls = lp.frame_calls(frame, nav)
    assert [name for name, _ in calls] == ["Lp", "Lp2"]
    with lp._Phases(limbfit) as phases:
        rows, reg = lp._register(limbfit, {"product": frame.product_id, "calls": calls}, phases)
    assert [row["kind"] for row in rows] == ["registered", "registered"]
    assert all(row["coarse_snr"] > 100 and lp._snr_bin(row["coarse_snr"]) in lp.SNR_BINS[4:] for row in rows)
    lazy = lp._lazy_second_band({"product": frame.product_id, "calls": calls}, rows, reg)
    assert lazy["band"] == "Lp"  # the first band's registration is good enough on its own
    assert lazy["same"] == (reg[0] == "Lp")
    assert lazy["saved_ms"] == rows[1]["start"] + rows[1]["refine"]  # the second band's work, all of it


def test_coarse_snr_bins():
    assert [lp._snr_bin(v) for v in (float("nan"), 3.0, 6.0, 19.9, 20.0, 999.0, 1e4)] == [
        "no limb",
        "<6",
        "6-20",
        "6-20",
        "20-100",
        "100-1000",
        ">=1000",
    ]


def test_against_a_revision_finds_the_same_fits_and_reports_a_difference(monkeypatch):
    frame = _frame(blank=False)
    calls = lp.frame_calls(frame, navigate_frame(frame, register=False))
    frames = [{"product": frame.product_id, "calls": calls}]
    out = lp.against(frames, "HEAD", 1)  # the committed limb fit against the working tree's
    assert out["calls"] == out["refined"] == 1 and out["differing"] == []
    (kind,) = out["refine_ms_per_frame_by_outcome"]
    assert kind == "registered"
    monkeypatch.setattr(limbfit, "OFFSET_MODEL_FLOOR_PX", 2 * limbfit.OFFSET_MODEL_FLOOR_PX)  # another 1σ
    (diff,) = lp.against(frames, "HEAD", 1)["differing"]
    assert diff["call"].endswith(":Lp") and diff["ok"] == [True, True]


def test_outcome_kinds():
    fits = [
        limbfit.LimbFit(ok=True),
        limbfit.LimbFit(
            ok=False, reason="no limb signal: 0 of 140 limb points in view have a significant edge"
        ),
        limbfit.LimbFit(ok=False, reason="limb points scatter 3.2 px about the fitted limb (> 2.1 px): ..."),
        limbfit.LimbFit(
            ok=False, reason="limb points span only 28 px (< 40 px): not a limb (a bright source?)"
        ),
        limbfit.LimbFit(ok=False, reason="limb arc too short to constrain the offset (arc 4°, 1σ 6.9 px)"),
        limbfit.LimbFit(ok=False, reason="fit diverged (offset outside the search window)"),
    ]
    assert [lp._outcome(f) for f in fits] == [
        "registered",
        "failed_first_pass",
        "failed_scatter",
        "failed_span",
        "failed_arc",
        "failed_other",
    ]
