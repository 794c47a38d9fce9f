"""``ioscan report`` end to end on a small simulated catalogue: files, summary.json, figures, the command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ioscan.catalog.store import open_store
from ioscan.cli import app
from ioscan.settings import Settings
from ioscan.workflows.report import write_report
from ioscan.workflows.scan import scan
from ioscan.workflows.track import track_catalog

FAST = [
    "analysis.n_calibration=20",
    "analysis.n_bootstrap=50",
    "analysis.n_permutations=50",
    "analysis.n_surrogates=20",
    "analysis.sh_max_degree=4",
]
BAND_KEYS = {
    "lat_min_deg",
    "lat_max_deg",
    "n_hotspots",
    "power_gw",
    "observed_area_fraction",
    "ci_low",
    "ci_high",
}


@pytest.fixture(scope="module")
def report(small_campaign, tmp_path_factory):
    db = tmp_path_factory.mktemp("report_db") / "c.db"
    with open_store(db) as store:
        scan(
            [small_campaign.metakernel.parent.parent],
            store=store,
            kernels=small_campaign.metakernel,
            workers=0,
        )
        track_catalog(store)
        out = tmp_path_factory.mktemp("report")
        res = write_report(store, out, settings=Settings.load(None, FAST))
    return db, res


def test_report_writes_html_pdf_summary_and_figures(report):
    _, res = report
    html = res.html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "src='http" not in html and 'src="http' not in html
    assert html.count("<img ") == len(res.figures)
    pdf = res.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= len(
        res.figures
    )
    assert all(p.exists() and p.stat().st_size > 5000 for p in res.figures)


def test_summary_json_carries_what_the_report_shows(report):
    _, res = report
    s = json.loads(res.summary_json.read_text())
    bands = s["latitude_bands"]
    assert [b["lat_min_deg"] for b in bands] == [-90, -60, -30, 30, 60]
    assert all(set(b) >= BAND_KEYS for b in bands)
    assert sum(b["n_hotspots"] for b in bands) == s["catalogue"]["n_census_hotspots"] > 0
    for b in bands:
        assert (
            0 <= b["observed_area_fraction"] <= 1 and b["ci_low"] <= b["density_per_1e6_km2"] <= b["ci_high"]
        )
    pe = s["tests"]["polar_vs_equatorial"]
    assert 0 <= pe["density"]["p_value"] <= 1 and set(pe["density"]["power_at_ratio"]) == {"1.5", "2"}
    assert pe["calibration"]["n_populations"] == 20 and "false_positive_rate_density" in pe["calibration"]
    assert pe["verdict"] in ("differ", "cannot tell") or pe["verdict"].startswith("no difference")
    assert s["tidal"]["power_weighted"]["verdict"] in (
        "deep_mantle",
        "asthenosphere",
        "cannot tell which",
        "neither",
    )
    assert s["thermal_map"]["power"]["degree"] <= s["thermal_map"]["power"]["supported_degree"] <= 4
    assert "not total heat flow" in s["thermal_map"]["note"]
    jiram = s["published"]["davies2024_jiram"]
    assert jiram["counts_as_printed"] == [12, 44, 125, 65, 20] and jiram["edge_sensitivity"]["n_within"] == 12
    assert all((res.out_dir / f).exists() for f in s["figures"])
    assert s["provenance"]["runs"] and s["provenance"]["report_settings"]["n_calibration"] == 20


def test_mosaics_use_only_registered_frames(report):
    db, res = report
    with open_store(db) as store:
        obs = store.observations_frame()
    registered = set(obs.loc[obs["registered"].fillna(False).astype(bool), "product_id"])
    mos = res.summary["mosaics"]
    used = {p for m in mos["mosaics"] for p in m["frames"]}
    assert used and used <= registered
    assert all(m["filled_fraction"] > 0 for m in mos["mosaics"])


def test_report_command_and_its_errors(report, tmp_path):
    db, _ = report
    runner = CliRunner()
    ext = tmp_path / "torus.csv"
    ext.write_text("time_utc,value\n2017-03-27T00:00:00Z,1.0\n2017-05-19T00:00:00Z,2.0\n")
    args = ["report", "--db", str(db), "--out", str(tmp_path / "r"), "--no-mosaics", "--external", str(ext)]
    for item in FAST:
        args += ["--set", item]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["time_series"]["external"]["verdict"].startswith("cannot tell")  # a handful of epochs
    bad = runner.invoke(app, ["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "does not exist" in bad.output and "Traceback" not in bad.output
    (tmp_path / "bad.csv").write_text("time,value\n")
    bad = runner.invoke(
        app,
        ["report", "--db", str(db), "--out", str(tmp_path / "y"), "--external", str(tmp_path / "bad.csv")],
    )
    assert bad.exit_code == 2 and "missing column" in bad.output and len(bad.output.strip().splitlines()) == 1
