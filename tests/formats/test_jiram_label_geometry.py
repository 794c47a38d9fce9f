"""What a real JIRAM label's geometry is worth: read from the archive's own label (orbit 4, not simulated),
each item checked against the others and against the instrument registry, never trusted by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ioscan.formats import read_product
from ioscan.formats.jiram_pds3 import describe_archive_geometry, quaternion_to_matrix, write_jiram_rdr
from ioscan.instruments import jiram

REAL_LABEL = Path(__file__).parent / "real" / "JIR_IMG_RDR_2017033T114006_V02.LBL"


def _product(tmp_path: Path, text: str | None = None) -> Path:
    lbl = tmp_path / REAL_LABEL.name
    if text is None:
        shutil.copy(REAL_LABEL, lbl)
    else:
        lbl.write_text(text)
    np.zeros((128, 432), "<f4").tofile(lbl.with_suffix(".IMG"))
    return lbl


def _checks(frame) -> dict[str, dict]:
    return {c["item"]: c for c in frame.metadata["archive_geometry"]["checks"]}


def test_quaternion_matrix_is_spice_q2m():
    sp = pytest.importorskip("spiceypy")
    rng = np.random.default_rng(4)
    for _ in range(5):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        assert np.allclose(quaternion_to_matrix(q), np.array(sp.q2m(q)), atol=1e-14)


def test_real_label_geometry_checked_item_by_item(tmp_path):
    frame = read_product(_product(tmp_path))
    geo = frame.metadata["archive_geometry"]
    checks = _checks(frame)
    assert geo["target"] == "JUPITER" and frame.label_geometry is None  # no Io geometry to navigate by
    # the quaternion is the J2000 -> instrument C-matrix: its +Z is the label's RA/Dec, north at TWIST_ANGLE
    assert checks["QUATERNION"]["status"] == "checked"
    assert geo["boresight_ra_deg"] == pytest.approx(1.2347, abs=2e-4)
    assert geo["boresight_dec_deg"] == pytest.approx(-41.9939, abs=3e-4)
    assert geo["twist_deg"] == pytest.approx(2.0465, abs=2e-4)
    assert geo["north_clock_angle_deg"] == pytest.approx(177.9535, abs=2e-4)
    assert "not stated" in geo["quaternion_frame"]
    # SC_TARGET_POSITION_VECTOR: the spacecraft relative to the target, body-fixed (its lat/lon/length)
    assert checks["SC_TARGET_POSITION_VECTOR"]["status"] == "checked"
    assert np.linalg.norm(geo["spacecraft_from_target_body_km"]) == pytest.approx(182584.6915, abs=0.01)
    # the "Sun" vector is the target's again: not used
    assert checks["SC_SUN_POSITION_VECTOR"]["status"] == "unreliable"
    # SAMPLE_FIRST_PIXEL = 139 is the M band's first detector line: the group's names are transposed
    assert jiram.M_BAND.first_detector_line == 139
    pix = checks["M_BAND_PARAMETERS pixel keywords"]
    assert pix["status"] == "transposed" and "139" in pix["note"]
    assert checks["M_BAND_PARAMETERS NORTH_AZIMUTH"]["status"] == "unreliable"
    scale = checks["M_BAND_PARAMETERS pixel scale"]
    assert scale["status"] == "approximate" and "-0.69 %" in scale["note"]
    assert "L_BAND_PARAMETERS pixel keywords" not in checks  # an I2 (M-only) frame: L group all N/A
    # the geometry comes from the reconstructed CK: it carries JIRAM's pointing error, along track
    assert geo["kernels"]["juno_sc_rec_170129_170204_v01.bc"] == "reconstructed CK"
    assert checks["pointing"]["status"] == "carries the pointing error"
    pointing = geo["pointing"]
    assert pointing["along_track_axis"] == "line"
    assert max(pointing["max_px"]) == pytest.approx(2.0 / np.degrees(jiram.IFOV_RAD), rel=0.01)
    # 1σ at the band centre: the along-track σ times the group's pixel scale (27.69 km/px)
    assert pointing["M_center_err_km"]["sigma"] == pytest.approx(max(pointing["sigma_px"]) * 27.6906986)
    lines = describe_archive_geometry(frame)
    assert lines[0].startswith("archive geometry (target JUPITER)") and any("transposed" in x for x in lines)


def test_a_changed_label_is_caught(tmp_path):
    text = REAL_LABEL.read_text()
    text = text.replace("-0.64137", "-0.60137")  # a corrupted quaternion
    text = text.replace("SAMPLE_FIRST_PIXEL     = 139", "SAMPLE_FIRST_PIXEL     = 5")
    text = text.replace('"juno_sc_rec_170129_170204_v01.bc"', '"juno_sc_pre_170129_170204_v01.bc"')
    frame = read_product(_product(tmp_path, text))
    checks = _checks(frame)
    assert checks["QUATERNION"]["status"] == "inconsistent"
    assert checks["M_BAND_PARAMETERS pixel keywords"]["status"] == "unknown"
    assert "predicted CK" in frame.metadata["archive_geometry"]["pointing"]["source"]


def test_simulated_label_without_archive_geometry(tmp_path):
    lbl = write_jiram_rdr(
        tmp_path,
        product_id="JIR_IMG_RDR_2020001T000000_V01",
        mode="I2",
        image=np.zeros((128, 432), np.float32),
        start_time_utc="2020-01-01T00:00:00",
        stop_time_utc="2020-01-01T00:00:00.1",
        sclk_start="1/1:000",
        orbit=24,
        exposure_s=0.1,
    )
    geo = read_product(lbl).metadata["archive_geometry"]
    assert _checks_of(geo)["QUATERNION"]["status"] == "absent"
    assert geo["pointing"]["source"].startswith("unknown")


def _checks_of(geo: dict) -> dict[str, dict]:
    return {c["item"]: c for c in geo["checks"]}
