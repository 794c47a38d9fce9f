"""The ``ioscan`` command line: instant help, clear errors, and each command doing its job."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from astropy.io import fits
from typer.testing import CliRunner

from ioscan import __version__
from ioscan.cli import app

runner = CliRunner()
HEAVY = (
    "spiceypy",
    "dask",
    "distributed",
    "matplotlib",
    "sqlalchemy",
    "scipy",
    "astropy",
    "pandas",
    "pdr",
    "numba",
)


def test_help_and_version_import_nothing_heavy():
    code = (
        "import sys; from ioscan.cli import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_backplanes_from_label_arguments_writes_named_extensions(tmp_path):
    out = tmp_path / "bp.fits"
    result = runner.invoke(
        app,
        [
            "backplanes",
            "--out",
            str(out),
            "--sub-obs-lat",
            "10",
            "--sub-obs-lon-w",
            "200",
            "--range-km",
            "500000",
            "--pixel-scale-km",
            "20",
            "--center-sample",
            "216",
            "--center-line",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    with fits.open(out) as hdul:
        names = {h.name for h in hdul[1:]}
        assert {
            "LAT_DEG",
            "LON_W_DEG",
            "EMISSION_DEG",
            "INCIDENCE_DEG",
            "PHASE_DEG",
            "RANGE_KM",
            "PIXEL_SCALE_KM",
            "LOCAL_SOLAR_TIME_H",
            "ON_DISK",
            "LIMB_DISTANCE_PX",
            "LAT_PC_DEG",
        } <= names
        assert hdul["LAT_DEG"].header["BUNIT"] == "deg" and hdul["RANGE_KM"].header["BUNIT"] == "km"
        # the disk-centre pixel looks along the observer's direction, i.e. the surface normal at the
        # near-point sub-observer point: its intercept's planetocentric latitude is that normal's latitude,
        # 10° (±0.05° for the triaxial shape), while its planetographic latitude is ~0.13° higher
        assert abs(hdul["LAT_PC_DEG"].data[64, 216] - 10) < 0.05
        assert 0.05 < hdul["LAT_DEG"].data[64, 216] - 10 < 0.25
        assert abs(hdul["LON_W_DEG"].data[64, 216] - 200) < 0.3


def test_backplanes_with_missing_kernels_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere.tm"
    result = runner.invoke(
        app,
        [
            "backplanes",
            "--out",
            str(tmp_path / "x.fits"),
            "--kernels",
            str(missing),
            "--time",
            "2022-01-01T00:00:00",
        ],
    )
    assert result.exit_code == 2
    assert "nowhere.tm" in result.output and "Traceback" not in result.output


def test_incomplete_label_geometry_names_what_is_missing(tmp_path):
    result = runner.invoke(app, ["backplanes", "--out", str(tmp_path / "x.fits"), "--sub-obs-lat", "3"])
    assert result.exit_code == 2 and "range_km" in result.output


def test_info_and_detect_json_on_a_simulated_product(small_campaign, tmp_path):
    lbl = sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    info = runner.invoke(app, ["info", str(lbl)])
    assert info.exit_code == 0 and lbl.stem in info.output and "W m-2 sr-1" in info.output
    png = tmp_path / "det.png"
    result = runner.invoke(
        app, ["detect", str(lbl), "--kernels", str(small_campaign.metakernel), "--json", "--png", str(png)]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert records, "the simulated frame has bright hot spots"
    for rec in records:
        assert {"band", "sample", "line", "snr", "net_radiance_sum", "unit", "flags"} <= set(rec)
        assert rec["unit"] == "W m-2 sr-1"
    with_geo = [r for r in records if r["lat_deg"] is not None]
    # a position on the disk gives a power, or the reason there is none (off the disk, pointing unknown)
    assert with_geo and all(
        (r["spectral_power_gw_um"] is not None and np.isfinite(r["spectral_power_gw_um"]))
        or r["extra"].get("no_intensity")
        for r in with_geo
    )
    assert any(r["spectral_power_gw_um"] is not None for r in with_geo)
    assert png.stat().st_size > 10_000


def test_detect_without_kernels_gives_pixel_results(small_campaign):
    fits_path = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))[0]
    result = runner.invoke(app, ["detect", str(fits_path), "--json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.output), list)


def test_import_bad_row_reports_line_and_stores_nothing(tmp_path):
    csv = tmp_path / "pub.csv"
    csv.write_text(
        "time_utc,lat_deg,lon_w_deg,lat_err_deg,lon_err_deg,wavelength_um,intensity_gw_um_sr,intensity_err_gw_um_sr\n"
        "2014-08-15T10:00:00,-40,300,1,1,3.78,20,2\n"
        "2014-08-16T10:00:00,-40,not-a-number,1,1,3.78,20,2\n"
    )
    db = tmp_path / "c.db"
    result = runner.invoke(app, ["import", "detections", str(csv), "--source", "test", "--db", str(db)])
    assert result.exit_code == 2 and "line 3" in result.output and "pub.csv" in result.output
    assert not db.exists()  # a bad import makes no catalogue either
    export = runner.invoke(app, ["export", "detections", "--db", str(db), "--out", str(tmp_path / "d.csv")])
    assert export.exit_code == 2 and "no catalogue" in export.output and not db.exists()


def test_lightcurve_command_on_a_tracked_catalogue(small_campaign, tmp_path):
    from ioscan.catalog.store import open_store
    from ioscan.workflows.scan import scan
    from ioscan.workflows.track import track_catalog

    db = tmp_path / "c.db"
    with open_store(db) as store:
        scan(
            [small_campaign.metakernel.parent.parent / "jiram"],
            store=store,
            kernels=small_campaign.metakernel,
            workers=0,
        )
        track_catalog(store)
        spots = store.hotspots_frame().sort_values("n_detections", ascending=False)
    hid = spots["hotspot_id"].iloc[0]
    png = tmp_path / "lc.png"
    result = runner.invoke(app, ["lightcurve", hid, "--band", "M", "--db", str(db), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "variability" in result.output and png.stat().st_size > 5_000
    missing = runner.invoke(app, ["lightcurve", "IOS99999", "--db", str(db)])
    assert missing.exit_code == 2 and "IOS99999" in missing.output


def test_scan_settings_from_file_and_flags_are_stored_with_the_run(small_campaign, tmp_path):
    """--config and --set reach the detector, and the catalogue records the settings the run was made with."""
    from ioscan.catalog.store import open_store

    config = tmp_path / "ioscan.toml"
    config.write_text("[detect]\nthreshold_snr = 7.0\n[track]\nn_sigma = 4.0\n", encoding="utf-8")
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))[:2]
    db = tmp_path / "c.db"
    args = ["scan", *map(str, ground), "--db", str(db), "--workers", "0", "--config", str(config)]
    result = runner.invoke(app, [*args, "--set", "detect.max_sources=3"])
    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        settings = store.runs_frame()["settings"].iloc[-1]
        dets = store.detections_frame()
    assert settings["detect"]["threshold_snr"] == 7.0 and settings["detect"]["max_sources"] == 3
    assert settings["track"]["n_sigma"] == 4.0
    assert (dets["extra"].map(lambda e: e["mf_snr"]) >= 7.0).all()
    assert dets.groupby("observation_id").size().max() <= 3
    bad = runner.invoke(app, ["scan", str(ground[0]), "--db", str(db), "--set", "detect.threshhold=3"])
    assert bad.exit_code == 2 and "unknown setting 'threshhold'" in bad.output
