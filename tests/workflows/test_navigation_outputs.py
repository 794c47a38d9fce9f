"""Where a frame's navigation shows: the catalogue (observations and detections), ``ioscan info --kernels``
and the headers of ``ioscan backplanes`` files, on a simulated close-flyby sequence."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from ioscan.catalog.store import open_store
from ioscan.cli import app
from ioscan.simulate.close_flybys import simulate_close_flybys
from ioscan.workflows.scan import scan

runner = CliRunner()


@pytest.fixture(scope="module")
def flyby(tmp_path_factory):
    out = tmp_path_factory.mktemp("flyby")
    return simulate_close_flybys(out, n_sequences=2, frames_per_sequence=4, seed=3)


@pytest.fixture(scope="module")
def scanned(flyby, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "c.db"
    with open_store(db) as store:
        scan([flyby.metakernel.parent.parent / "jiram"], store=store, kernels=flyby.metakernel, workers=0)
        return store.observations_frame(), store.detections_frame()


def test_observations_and_detections_keep_the_navigation(scanned):
    obs, det = scanned
    assert set(obs.registration_method) <= {"limb", "hotspots", "chain", "none"}
    assert obs.pointing_offset_sample_err_px.notna().all() and obs.pointing_offset_line_err_px.notna().all()
    assert obs.pointing_offset_corr.between(-1, 1).all()
    unregistered = obs[obs.registration_method == "none"]
    # an unregistered JIRAM frame keeps an along-track error of tens of pixels (less where a single match
    # or missing bright hot spots narrow the posterior), a few across
    assert len(unregistered) and (unregistered.pointing_offset_sample_err_px < 4).all()
    assert (unregistered.pointing_offset_line_err_px > 2 * unregistered.pointing_offset_sample_err_px).all()
    by_hot_spots = obs[obs.registration_method.isin(["hotspots", "chain"])]
    assert (by_hot_spots.n_anchor_matches >= 2).all() and (by_hot_spots.false_match_prob <= 0.01).all()
    located = det[det.lat_deg.notna()]
    assert len(located) > 10
    assert located.lat_lon_err_corr.between(-1, 1).all()
    assert (located.emission_err_deg >= 0).all() and (located.range_err_km >= 0).all()


def test_info_shows_the_navigation(flyby):
    lbl = sorted(flyby.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    result = runner.invoke(app, ["info", str(lbl), "--kernels", str(flyby.metakernel)])
    assert result.exit_code == 0, result.output
    assert "navigation: geometry from spice" in result.output
    assert "1σ" in result.output and "archive geometry" in result.output


def test_backplane_headers_say_how_the_frame_was_registered(flyby, tmp_path):
    lbl = sorted(flyby.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    out = tmp_path / "bp.fits"
    args = ["backplanes", str(lbl), "--kernels", str(flyby.metakernel), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.glob("bp*.fits"))
    assert written
    with fits.open(written[0]) as hdul:
        h = hdul[0].header
        assert h["NAVMETH"] in ("limb", "hotspots", "chain", "none")
        assert np.isfinite(h["PNTERRS"]) and np.isfinite(h["PNTERRL"]) and -1 <= h["PNTCORR"] <= 1
        assert "LAT_DEG" in hdul


def test_a_bad_anchor_table_stops_the_scan_with_one_line(flyby, tmp_path):
    bad = tmp_path / "anchors.csv"
    bad.write_text("lat_deg,lon_w_deg\n10,20\n")
    args = ["scan", str(flyby.metakernel.parent.parent / "jiram"), "--kernels", str(flyby.metakernel)]
    args += ["--db", str(tmp_path / "c.db"), "--workers", "0", "--set", f'navigate.anchors="{bad}"']
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "anchors.csv" in result.output and "row 2" in result.output
    assert "Traceback" not in result.output
