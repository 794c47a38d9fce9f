"""Background annuli decoupled from the matched filter's core (``detect.psf_annuli_model_core``): where a core
measured on the frame replaces the model's and a limb is seen, the annuli (and the limb band) stay sized for
the model's core while the filter, fits and photometry take the measured one."""

from __future__ import annotations

import pytest

from independent_frames import bench_generalise_frame
from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.background import annulus_sizes, filter_options
from ioscan.detect.band import annulus_sigma
from ioscan.detect.psf import PsfModel

MODEL = PsfModel((0.96, 0.04), (0.6, 2.5))  # JIRAM's M-band model
MEASURED = PsfModel((0.96, 0.04), (0.8, 2.5))  # its core as the independent renderer draws it


def test_annuli_may_be_narrower_than_the_filter():
    """Annuli sized for 0.6 px under a 0.8-px filter: the small one is (1, 3), as annulus_sizes' rule
    round(2σ), round(2σ) + max(2, round(2.5σ)) gives for 0.6 px, not the (2, 4) of 0.8 px; the filter keeps
    0.8 px."""
    opts = filter_options(0.8, annulus_sigma_px=0.6)
    assert (opts[0][0], opts[0][1]) == annulus_sizes(0.6)[0] == (1, 3)
    assert annulus_sizes(0.8)[0] == (2, 4)
    assert all(f == 0.8 for _, _, f, _ in opts)


def test_annulus_sigma_takes_the_models_core_where_given():
    """The model's core where given; otherwise the PSF's (measured), or × a margin never below 1 where
    unmeasured."""
    cfg = DetectConfig(unmeasured_psf_width_margin=0.5)
    assert annulus_sigma(MEASURED, cfg, True, 0.6) == 0.6
    assert annulus_sigma(MEASURED, cfg, True) == 0.8
    assert annulus_sigma(MODEL, cfg, False) == 0.6
    assert annulus_sigma(MODEL, DetectConfig(unmeasured_psf_width_margin=1.3), False) == pytest.approx(0.78)


@pytest.mark.parametrize("model_annuli", [False, True])
def test_sunlit_frame_keeps_the_models_annuli_under_the_measured_filter(model_annuli):
    """The independent renderer's first sunlit frame (true core 0.8 px; the limb in view): with the measured
    core in the filter (``psf_filter_where_limb_seen``) the annuli are those of the measured ~0.8 px, or,
    with ``psf_annuli_model_core``, those of the model's 0.6 px; the filter's core is the measured one
    either way."""
    frame, truth, illumination = bench_generalise_frame(0)
    assert illumination == "day"
    cfg = DetectConfig(psf_filter_where_limb_seen=True, psf_annuli_model_core=model_annuli)
    res = detect_frame(frame, config=cfg, keep_models=True)
    msg = next(m for m in res.messages if "PSF measured" in m)
    core = float(msg.split("core σ ")[1].split(" px")[0])
    assert core == pytest.approx(0.8, abs=0.04)
    annuli = [(h0, h1) for h0, h1, _ in res.bands["M"].model.annuli]
    small, large = annulus_sizes(0.6 if model_annuli else core)
    assert annuli == [small, (large[0], large[1] + 1)]  # the small quadratic, the large plane one px wider
