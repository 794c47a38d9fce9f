"""Background annuli where the PSF was not measured on the frame (``detect.unmeasured_psf_width_margin``)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.background import efficiency, filter_options
from ioscan.detect.band import annulus_sigma
from ioscan.detect.psf import PsfModel
from ioscan.records import BandImage, Frame
from ioscan.simulate.independent import GaussianPsf


def _frame(img: np.ndarray) -> Frame:
    band = BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.4975)
    return Frame("T", "JIRAM", "JUNO", "2023-01-01T00:00:00", 0.01, {"M": band})


def _annuli(sigma_px: float) -> list[tuple[int, int, int]]:
    return [(h0, h1, deg) for h0, h1, _, deg in filter_options(sigma_px)]


def test_wider_annuli_keep_the_filter_and_the_wider_cores_sizes():
    """Sized for a core 1.3 × the model's 0.6 px: the annuli are those of a 0.78-px core, the filter stays
    0.6 px; a margin below 1 never shrinks them."""
    opts = filter_options(0.6, annulus_sigma_px=0.78)
    assert [(h0, h1, deg) for h0, h1, _, deg in opts] == _annuli(0.78) != _annuli(0.6)
    assert all(f == 0.6 for _, _, f, _ in opts)
    shrunk = annulus_sigma(PsfModel.gaussian(0.6), DetectConfig(unmeasured_psf_width_margin=0.5), False)
    assert shrunk == 0.6


def test_small_annulus_keeps_a_wider_true_cores_wings_out():
    """A true Gaussian core of 0.8 px under the 0.6-px model filter (the independent renderer's case): the
    small quadratic annulus sized for 0.6 px keeps < 0.76 of the ideal white-noise S/N (its ring 1–3 px sits
    in the core's wings), sized for 0.78 px ≥ 0.81; for a true 0.6-px core the wider one loses nothing."""
    h0, h1, f, deg = filter_options(0.6)[0]
    w0, w1, _, wdeg = filter_options(0.6, annulus_sigma_px=0.78)[0]
    true_wide, true_model = PsfModel.gaussian(0.8), PsfModel.gaussian(0.6)
    assert efficiency(true_wide, h0, h1, f, deg) < 0.76
    assert efficiency(true_wide, w0, w1, f, wdeg) >= 0.81
    assert efficiency(true_model, w0, w1, f, wdeg) >= efficiency(true_model, h0, h1, f, deg) - 0.005


@pytest.mark.parametrize("margin", [1.0, 1.3])
def test_annuli_of_an_unmeasured_psf_are_those_of_the_wider_core(margin):
    """Pure noise (no source to measure the PSF on): the band model's annuli are those of a core ``margin`` ×
    the model's (0.6 px)."""
    img = np.random.default_rng(21).normal(0.0, 1.0, (128, 432))
    cfg = DetectConfig(unmeasured_psf_width_margin=margin)
    res = detect_frame(_frame(img), config=cfg, keep_models=True)
    model = res.bands["M"].model
    assert model.annuli == _annuli(0.6 * margin)


def test_annuli_of_a_measured_psf_are_unchanged():
    """Bright isolated sources of a 0.8-px Gaussian (the renderer's): the PSF is measured and the annuli are
    those of the measured core, whatever the margin."""
    rng = np.random.default_rng(22)
    psf = GaussianPsf(sigma_sample_px=0.8)
    img = rng.normal(0.0, 1.0, (128, 432))
    _, _, st = psf.stamp(0.0, 0.0)
    xs, ys = np.array([60.3, 160.2, 260.4, 360.1]), np.array([40.2, 90.4, 40.3, 90.1])
    psf.add_sources(img, xs, ys, np.full(xs.size, 80.0 / np.sqrt(np.sum(st**2))))
    res = [
        detect_frame(_frame(img), config=DetectConfig(unmeasured_psf_width_margin=m), keep_models=True)
        for m in (1.0, 1.3)
    ]
    assert all(any("PSF measured" in m for m in r.messages) for r in res)
    core = float(next(m for m in res[0].messages if "core σ" in m).split("core σ ")[1].split(" px")[0])
    assert res[0].bands["M"].model.annuli == res[1].bands["M"].model.annuli == _annuli(core)
