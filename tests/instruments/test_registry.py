"""The instrument registry: one home for each instrument fact, found by name or label alias, and no
instrument-name branches in the pipeline stages."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ioscan.detect import default_psf
from ioscan.instruments import (
    PixelAxes,
    PointingPrior,
    UnknownInstrumentError,
    get_instrument,
    instruments,
    jiram,
    nirc2,
)
from ioscan.radiometry import band_response
from ioscan.simulate.psf import ao_psf, jiram_psf

SRC = Path(__file__).resolve().parents[2] / "src" / "ioscan"


@pytest.mark.parametrize(
    ("alias", "name"),
    [("JIRAM", "JIRAM"), ("jir", "JIRAM"), ("Jovian Infrared Auroral Mapper", "JIRAM"), ("nirc2", "NIRC2")],
)
def test_found_by_name_and_label_alias(alias, name):
    assert get_instrument(alias).name == name


def test_unknown_instrument_or_band_is_an_error_naming_it():
    with pytest.raises(UnknownInstrumentError, match="'NIRI'.*JIRAM, NIRC2"):
        get_instrument("NIRI")
    with pytest.raises(UnknownInstrumentError, match="JIRAM has no band 'K'"):
        get_instrument("JIRAM").band("K")


def test_jiram_facts_from_the_sis_and_ik():
    inst = get_instrument("JIRAM")
    assert inst.observer == "JUNO"
    assert inst.band("L").low_um == 3.320 and inst.band("L").high_um == 3.600
    assert inst.band("M").bandwidth_um == pytest.approx(0.4975)
    assert inst.band("M").spice_frame == "JUNO_JIRAM_I_MBAND" and inst.band("M").naif_id == -61412
    # detector lines 1-128 are L, 139-266 M (10 gap lines)
    assert inst.band("L").first_detector_line == 1 and inst.band("M").first_detector_line == 139
    assert inst.artefacts.column_streaks and inst.artefacts.ring_radius_px == 10.0
    # the reconstructed pointing: up to ~2° along track (the spin direction, +X of the imager frames)
    assert inst.pointing.max_px[1] == pytest.approx(2.0 / np.degrees(jiram.IFOV_RAD), rel=0.01)
    assert inst.pointing.max_px[0] <= 10 and inst.label_pointing == inst.pointing


def test_along_track_axis_follows_from_the_frames_kernel_and_the_pixel_axes():
    """Lines run along −X and the spin sweeps the field along +X (NAIF FK): the pointing error is along the
    lines, so the limb fit searches far along lines and puts its prior on the samples."""
    prior = get_instrument("JIRAM").pointing
    assert prior.along_track_axis == "line" == jiram.PIXEL_AXES.axis_along((1.0, 0.0, 0.0))
    assert prior.sigma_px[1] > 10 * prior.sigma_px[0]
    search = prior.search_px()
    assert search[1] > prior.max_px[1] > 140 and search[0] < 30
    assert prior.limb_prior_px() == (prior.sigma_px[0], None)
    # a transposed convention would put the error along the samples
    transposed = PixelAxes((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))
    assert transposed.axis_along(jiram.ALONG_TRACK_FRAME_AXIS) == "sample"
    other = PointingPrior.along_track("sample", 50.0, 150.0, 3.0, 8.0)
    assert other.sigma_px == (50.0, 3.0) and other.limb_prior_px() == (None, 3.0)
    # a header's disk centre is good to ~2 px on both axes: the limb fit uses it as a prior on both
    assert get_instrument("NIRC2").pointing.limb_prior_px() == (2.0, 2.0)
    with pytest.raises(ValueError, match="neither pixel axis"):
        jiram.PIXEL_AXES.axis_along((0.0, 0.0, 1.0))


def test_one_psf_for_detector_simulator_and_limb_fit():
    """The detector's default PSF, the simulator's and the limb fit's edge width come from one definition."""
    det = default_psf("JIRAM", 4.78)
    sim = jiram_psf()
    assert det.weights == sim.weights == (0.96, 0.04) and det.sigmas_px == sim.sigmas_px == (0.6, 2.5)
    # NIRC2: a 0.42 λ/D core, the same in the detector, the simulator and the limb fit
    lam = 3.776
    core = 0.42 * lam * 1e-6 / nirc2.KECK_APERTURE_M / np.radians(nirc2.PLATE_SCALE_ARCSEC / 3600)
    assert default_psf("NIRC2", lam).sigmas_px[0] == pytest.approx(core, rel=1e-12)
    assert ao_psf(lam, nirc2.PLATE_SCALE_ARCSEC).sigmas_px[0] == pytest.approx(core, rel=1e-12)
    assert get_instrument("NIRC2").limb_psf_sigma_px(lam) == pytest.approx(core, rel=1e-12)
    # a header's own plate scale is used
    assert default_psf("NIRC2", lam, plate_scale_arcsec=0.02).sigmas_px[0] == pytest.approx(
        core * nirc2.PLATE_SCALE_ARCSEC / 0.02, rel=1e-12
    )


def test_filter_responses_come_from_the_registry():
    for inst in instruments().values():
        for band in inst.bands.values():
            resp = band_response(inst.name, band.name)
            assert resp.center_um == band.center_um
            assert resp.wavelength_um[0] == band.low_um and resp.wavelength_um[-1] == band.high_um


def test_no_instrument_name_branches_in_the_pipeline_stages():
    """Stages ask the registry; only instruments/, the mission format modules and the simulator name them."""
    name = r"""["'](JIRAM|NIRC2|JIR)["']"""
    pattern = re.compile(rf"(==|!=|\bin)\s*\(?\s*{name}|{name}\s*(==|!=)")
    stages = ["detect", "measure", "geometry", "track", "catalog", "workflows", "radiometry", "cli"]
    offenders = [
        f"{p.relative_to(SRC)}:{i}"
        for stage in stages
        for p in (SRC / stage).rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
