"""``ioscan check-convention`` end to end on written products and SPICE kernels: the job reads, detects, takes
poses from the kernels and weighs the two sample signs; unusable products are skipped with a reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ioscan.cli.convention import check_convention as check_cmd
from ioscan.workflows.convention import check_convention


def _app() -> typer.Typer:
    from ioscan.cli import user_errors

    app = typer.Typer()
    app.command()(user_errors(check_cmd))
    return app


@pytest.fixture(scope="module")
def checked(small_campaign):
    camp = small_campaign.metakernel.parent.parent
    return check_convention([camp / "jiram", camp / "ground"], small_campaign.metakernel)


def test_declared_world_is_never_confirmed_mirrored(checked, small_campaign):
    """The simulated campaign renders its frames with the declared axes (−Y): the verdict may be "−Y
    confirmed" or "unconfirmed", never "+Y"; ground-based frames have no SPICE frame and are skipped."""
    res = checked.result
    assert res.declared_label == "−Y" and res.mirror_label == "+Y"
    assert len(res.frames) == small_campaign.n_jiram
    assert res.choice in ("−Y", None) and res.total_llr > -res.threshold
    assert len(checked.skipped) == small_campaign.n_ground
    assert all("no SPICE frame" in reason for _, reason in checked.skipped)
    assert set(checked.spice_frames) <= {"JUNO_JIRAM_I_LBAND", "JUNO_JIRAM_I_MBAND"}


def test_verdict_is_printed(checked):
    from rich.console import Console

    from ioscan.cli.convention import print_convention

    console = Console(record=True, width=200)
    print_convention(console, checked)
    text = console.export_text()
    assert "declared −Y" in text and (("−Y confirmed" in text) or ("unconfirmed" in text))
    assert all(f.name in text for f in checked.result.frames)
    assert json.loads(json.dumps(checked.to_dict()))["declared"] == "−Y"


def test_command_prints_json(small_campaign):
    camp = small_campaign.metakernel.parent.parent
    orbit = sorted((camp / "jiram").iterdir())[0]
    out = CliRunner().invoke(_app(), [str(orbit), "--kernels", str(small_campaign.metakernel), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["declared"] == "−Y" and data["status"] in ("confirmed", "unconfirmed")
    assert data["choice"] in ("−Y", None) and len(data["frames"]) == len(list(orbit.glob("*.LBL")))


def test_unusable_input_is_one_error_line(tmp_path, small_campaign):
    runner = CliRunner()
    camp = small_campaign.metakernel.parent.parent
    out = runner.invoke(_app(), [str(camp / "ground"), "--kernels", str(small_campaign.metakernel)])
    assert out.exit_code == 2 and "no product could be checked" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(_app(), [str(tmp_path), "--kernels", str(small_campaign.metakernel)])
    assert out.exit_code == 2 and "no products found" in out.output
    out = runner.invoke(_app(), [str(camp / "jiram"), "--kernels", str(tmp_path / "missing.tm")])
    assert out.exit_code == 2 and "missing.tm not found" in out.output


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """Products and kernels of a simulated world whose samples truly run along +Y (kernels and labels as
    NAIF's and ioscan's declaration make them)."""
    from ioscan.geometry.convention import mirrored_axes
    from ioscan.instruments import jiram
    from ioscan.simulate.campaign import simulate_campaign

    out = tmp_path_factory.mktemp("mirrored")
    camp = simulate_campaign(
        out,
        orbits=[5, 20],
        seed=5,
        frames_per_orbit=3,
        ground_nights=0,
        pixel_axes=mirrored_axes(jiram.PIXEL_AXES),
    )
    return out, camp


def test_mirrored_world_comes_out_mirrored(mirrored):
    """check-convention, reading the products with the kernels, must find +Y."""
    out, camp = mirrored
    res = check_convention([out / "jiram"], camp.metakernel).result
    assert len(res.frames) == camp.n_jiram
    assert res.status == "confirmed" and res.choice == "+Y", res.to_dict()


def test_verdict_does_not_rest_on_the_cross_track_prior(mirrored):
    """With a cross-track bound of 120 px instead of the instrument's 8, a mirrored disk off the middle column
    can be moved back: the shading and the known hot spots must still find +Y."""
    out, camp = mirrored
    res = check_convention([out / "jiram"], camp.metakernel, cross_track_px=120.0).result
    assert res.status == "confirmed" and res.choice == "+Y", res.to_dict()


def test_label_quaternion_is_matched_to_its_frame(tmp_path, small_campaign):
    """A label quaternion is checked against the kernels: the C-matrix of the band frame it was made from is
    found at ~0°, JUNO_JIRAM_I at 0.94° and the other band at 1.88° (NAIF's FK)."""
    import shutil

    import numpy as np
    import spiceypy as sp

    from ioscan.formats import read_product
    from ioscan.geometry.spice_provider import SpiceGeometry

    camp = small_campaign.metakernel.parent.parent
    src = sorted((camp / "jiram").rglob("*.LBL"))[0]
    for suffix in (".LBL", ".IMG"):
        shutil.copy(src.with_suffix(suffix), tmp_path / src.with_suffix(suffix).name)
    lbl = tmp_path / src.name
    frame = read_product(lbl)
    band = next(iter(frame.bands.values())).spice_frame
    geo = SpiceGeometry(small_campaign.metakernel)
    c = geo.frame_inputs(frame.time_utc, band).inst_to_j2000.T  # J2000 -> band frame
    q = sp.m2q(np.ascontiguousarray(c))
    ra = np.degrees(np.arctan2(c[2, 1], c[2, 0])) % 360
    dec = np.degrees(np.arcsin(c[2, 2]))
    twist = np.degrees(np.arctan2(c[0, 2], c[1, 2]))
    keywords = (
        f"QUATERNION = ({q[0]:.9f}, {q[1]:.9f}, {q[2]:.9f}, {q[3]:.9f})\r\n"
        f"RIGHT_ASCENSION = {ra:.6f} <degree>\r\nDECLINATION = {dec:.6f} <degree>\r\n"
        f"TWIST_ANGLE = {twist:.6f} <degree>\r\n"
    )
    text = lbl.read_text()
    lbl.write_text(text.replace("GROUP = L_BAND_PARAMETERS", keywords + "GROUP = L_BAND_PARAMETERS", 1))
    checks = {c["item"]: c["status"] for c in read_product(lbl).metadata["archive_geometry"]["checks"]}
    assert checks["QUATERNION"] == "checked"
    check = check_convention([lbl], small_campaign.metakernel)
    angles = check.label_quaternions[frame.product_id]
    other = "JUNO_JIRAM_I_LBAND" if band.endswith("MBAND") else "JUNO_JIRAM_I_MBAND"
    assert angles[band] < 1e-5
    assert angles["JUNO_JIRAM_I"] == pytest.approx(0.94012, abs=1e-4)
    assert angles[other] == pytest.approx(2 * 0.94012, abs=2e-4)


def test_anchor_table_from_the_navigation_settings(tmp_path, small_campaign):
    """The hot-spot term takes the same anchor specs as navigation; a bad table is one error line."""
    from ioscan.geometry.anchors import load_anchors
    from ioscan.geometry.convention import Anchors

    table = load_anchors("shipped")
    anchors = Anchors.from_table(table)
    assert len(anchors) == len(table) and np.all(anchors.tail_err_km >= anchors.err_km)
    bad = tmp_path / "bad.csv"
    bad.write_text("lat_deg,lon_w_deg\n10,abc\n")
    camp = small_campaign.metakernel.parent.parent
    orbit = sorted((camp / "jiram").iterdir())[0]
    out = CliRunner().invoke(
        _app(), [str(orbit), "--kernels", str(small_campaign.metakernel), "--anchors", f"shipped+{bad}"]
    )
    assert out.exit_code == 2 and "bad.csv" in out.output and "Traceback" not in out.output
