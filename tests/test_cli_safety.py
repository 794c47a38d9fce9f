"""The command line never loses or invents data: commands that read a catalogue do not create one, outputs
never replace a catalogue (and other files only with --force), a frame without geometry is an error, and
machine-readable output says which product and time each detection belongs to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ioscan.cli import app

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[1] / "src")


def ioscan(*args, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC, COLUMNS="200")  # a wide console: no elided columns
    return subprocess.run(
        [sys.executable, "-m", "ioscan.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_reading_commands_refuse_to_create_a_catalogue(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["track"], ["export", "detections"], ["lightcurve", "IOS00001"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "no catalogue" in result.output and "--db" in result.output
        assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no ioscan.db, no detections.csv
    not_ours = tmp_path / "notes.db"
    import sqlite3

    sqlite3.connect(not_ours).execute("CREATE TABLE x (y)").connection.commit()
    result = runner.invoke(app, ["track", "--db", str(not_ours)])
    assert result.exit_code == 2 and "not an ioscan catalogue" in result.output


@pytest.fixture
def catalogue(tmp_path):
    """A catalogue holding two imported detections."""
    csv = tmp_path / "pub.csv"
    csv.write_text(
        "time_utc,lat_deg,lon_w_deg,lat_err_deg,lon_err_deg,wavelength_um,intensity_gw_um_sr\n"
        "2014-08-15T10:00:00,-40,300,1,1,3.78,20\n2014-08-16T10:00:00,-40,300,1,1,3.78,22\n",
        encoding="utf-8",
    )
    db = tmp_path / "cat.db"
    assert (
        runner.invoke(app, ["import", "detections", str(csv), "--source", "pub", "--db", str(db)]).exit_code
        == 0
    )
    return db


def test_export_never_overwrites_the_catalogue_and_needs_force_for_a_file(catalogue, tmp_path):
    before = catalogue.read_bytes()
    for extra in ([], ["--force"]):
        result = runner.invoke(
            app, ["export", "detections", "--db", str(catalogue), "--out", str(catalogue), *extra]
        )
        assert result.exit_code == 2 and "catalogue in use" in result.output
    assert catalogue.read_bytes()[:100] == before[:100]
    out = tmp_path / "d.csv"
    assert (
        runner.invoke(app, ["export", "detections", "--db", str(catalogue), "--out", str(out)]).exit_code == 0
    )
    again = runner.invoke(app, ["export", "detections", "--db", str(catalogue), "--out", str(out)])
    assert again.exit_code == 2 and "exists; give --force" in again.output
    forced = runner.invoke(
        app, ["export", "detections", "--db", str(catalogue), "--out", str(out), "--force"]
    )
    assert forced.exit_code == 0 and "wrote 2 detections" in forced.output
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[header.index("flags") + 1] == "flag_names"


def test_backplanes_of_a_product_without_geometry_is_an_error(small_campaign, tmp_path):
    """Without kernels a simulated JIRAM label has no geometry: it used to write nothing and exit 0."""
    lbl = sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    out = tmp_path / "bp.fits"
    result = runner.invoke(app, ["backplanes", str(lbl), "--out", str(out)])
    assert result.exit_code == 2 and lbl.name in result.output and "no geometry" in result.output
    assert "--kernels" in result.output and not list(tmp_path.iterdir())
    ok = runner.invoke(
        app, ["backplanes", str(lbl), "--out", str(out), "--kernels", str(small_campaign.metakernel)]
    )
    assert ok.exit_code == 0, ok.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["bp_L.fits", "bp_M.fits"]
    refused = runner.invoke(
        app, ["backplanes", str(lbl), "--out", str(out), "--kernels", str(small_campaign.metakernel)]
    )
    assert refused.exit_code == 2 and "exists; give --force" in refused.output


def test_detect_json_records_name_their_product_and_time(small_campaign):
    fits_path = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))[0]
    result = runner.invoke(app, ["detect", str(fits_path), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert records
    from ioscan.formats import read_product

    frame = read_product(fits_path)
    for rec in records:
        assert rec["product_id"] == frame.product_id and rec["instrument"] == frame.instrument
        assert rec["time_utc"] == frame.time_utc + "Z"
        assert rec["flag_names"] == [] or set(rec["flag_names"]) <= {
            "SATURATED",
            "NEAR_LIMB",
            "EDGE",
            "COSMIC_RAY",
            "BLENDED",
            "OFF_DISK",
            "LOW_SNR",
            "ARTEFACT",
        }


def test_import_without_position_errors_names_the_line_or_takes_the_stated_error(tmp_path):
    csv = tmp_path / "pub.csv"
    csv.write_text(
        "time_utc,lat_deg,lon_w_deg,lat_err_deg,lon_err_deg,wavelength_um,intensity_gw_um_sr\n"
        "2014-08-15T10:00:00,-40,300,1,1,3.78,20\n"
        "2014-08-16T10:00:00,-40,300,,,3.78,20\n",
        encoding="utf-8",
    )
    db = tmp_path / "c.db"
    refused = runner.invoke(app, ["import", "detections", str(csv), "--source", "pub", "--db", str(db)])
    assert refused.exit_code == 2 and "line 3: lat_err_deg is empty" in refused.output and not db.exists()
    ok = runner.invoke(
        app,
        ["import", "detections", str(csv), "--source", "pub", "--db", str(db), "--position-err-deg", "1.5"],
    )
    assert ok.exit_code == 0 and "imported 2 detections" in ok.output


def test_scan_reports_an_odd_name_and_stores_the_rest(small_campaign, tmp_path):
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ground[0], os.fsencode(folder) + b"/\xff\xfe.fits")
    shutil.copy(ground[1], folder / ground[1].name)
    result = ioscan("scan", folder, "--db", tmp_path / "c.db", "--workers", "0")
    assert result.returncode == 1, result.stderr  # a product failed: exit 1, and says which
    assert (
        "failed" in result.stdout
        and "\\xff\\xfe.fits" in result.stdout
        and "not valid UTF-8" in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert "scan (partial" in result.stdout


def test_a_dask_scan_ends_without_noise(small_campaign, tmp_path):
    """Nothing on stderr from a clean scan on a LocalCluster: no closed-connection tracebacks at shutdown and
    no warning when the default dashboard port is taken (it is here, on purpose)."""
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))
    with socket.socket() as busy:
        try:
            busy.bind(("127.0.0.1", 8787))
            busy.listen()
        except OSError:
            pass  # taken already: the case we want
        result = ioscan("scan", *ground, "--db", tmp_path / "c.db", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert f"{len(ground)} processed" in result.stdout and "frames/s" in result.stdout
