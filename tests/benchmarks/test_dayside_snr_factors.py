"""The day-side S/N factor study (``benchmarks/dayside_snr_factors.py``): its hooked copy of ioscan's
background, unswapped, is ioscan's own first-pass S/N map; with every piece of truth swapped in it is the
ideal matched filter's S/N; the band module is left as it was."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ioscan.detect import band as bandmod
from ioscan.detect import detect_frame
from ioscan.simulate.independent import draw_scene, render_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import dayside_snr_factors as study  # noqa: E402


@pytest.fixture(scope="module")
def sunlit():
    """A sunlit frame with isolated, unsaturated hot spots of ideal S/N ≥ 5 in its M band."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        r = render_scene(draw_scene(rng, kind="day"))
        if r.illumination != "day" or "M" not in r.bands:
            continue
        t = r.truth[r.truth["band"] == "M"]
        if ((t["snr_ideal"] >= 5) & ~t["saturated"] & (t["neighbour_px"] >= 4)).sum() >= 3:
            return r
    pytest.skip("no sunlit frame with three studied hot spots in 20 draws")


def test_base_variant_is_ioscans_own_first_pass_map(sunlit):
    """No swap: the hooked copy gives ioscan's first-pass S/N map bit for bit."""
    got = study.run_variant(sunlit, "base")
    res = detect_frame(study.m_frame(sunlit), keep_models=True)
    m = res.bands["M"].model
    (l0, s0), (nl, ns) = res.bands["M"].offset, m.snr.shape
    want = np.full(sunlit.bands["M"].image.shape, np.nan)
    want[l0 : l0 + nl, s0 : s0 + ns] = np.where(m.usable, m.snr, np.nan)
    np.testing.assert_array_equal(got["snr"], want)


def test_all_truth_reaches_the_ideal_and_module_restored(sunlit):
    """True PSF in the filter, true background, true σ, scale 1: the map at the studied hot spots is the
    ideal S/N within noise (median ratio 0.85–1.15); the band module's functions are its own again after."""
    before = (bandmod.estimate_background, bandmod.search_region, bandmod._measure_psf, bandmod._psf_in_use)
    rows, _ = study.one_frame(sunlit, 0, ["all"])
    after = (bandmod.estimate_background, bandmod.search_region, bandmod._measure_psf, bandmod._psf_in_use)
    assert before == after
    sel = rows[rows["isolated"] & ~rows["saturated"] & (rows["snr_ideal"] >= 5)]
    assert 0.85 <= float(np.median(sel["all"])) <= 1.15
