"""``benchmarks/limbfit_phases.py``: the limb fit's calls captured from ``register_on_limb`` and replayed as
navigation chooses its band give navigation's registration, with each phase's time and the fit's kind."""

from __future__ import annotations

import sys
from pathlib import Path

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
