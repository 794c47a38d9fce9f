"""``benchmarks/limbfit_phases.py``: the limb fit's calls captured from ``register_on_limb`` and replayed as
navigation chooses its band give navigation's registration, with each phase's time and the fit's kind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ioscan.geometry import limbfit
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.geometry.navigate import navigate_frame
from ioscan.records import BandImage, Frame, LabelGeometry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import limbfit_phases as lp  # noqa: E402


def _frame(blank: bool) -> Frame:
    """A 256 × 256 Lambert disk 6.3 px right of its label's position (blank: noise only)."""
    true = LabelGeometry(0.0, 200.0, 0.0, 230.0, 6.0e8, 0.0, 30.0, 134.3, 128.0)
    bp = backplanes_from_label(true, 256, 256)
    mu0 = np.cos(np.radians(np.nan_to_num(bp["incidence_deg"], nan=90.0)))
    image = np.where(bp.on_disk & (not blank), np.clip(mu0, 0, None), 0.0)
    image = image + np.random.default_rng(3).normal(0, 0.01, image.shape)
    return Frame(
        "NIRC2_TEST",
        "NIRC2",
        "EARTH",
        "2020-01-01T00:00:00",
        1.0,
        {"Lp": BandImage("Lp", image.astype(np.float32), "W m-2 sr-1 um-1", 3.78, 0.7)},
        label_geometry=LabelGeometry(**{**true.__dict__, "disk_center_sample": 128.0}),
    )


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
