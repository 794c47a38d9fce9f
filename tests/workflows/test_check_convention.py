"""``ioscan check-convention`` end to end on written products and SPICE kernels: the job reads, detects, takes
poses from the kernels and weighs the two sample signs; unusable products are skipped with a reason."""

from __future__ import annotations

import json

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


def test_mirrored_world_comes_out_mirrored(tmp_path_factory):
    """A simulated world whose samples truly run along +Y (kernels and labels as NAIF's and ioscan's
    declaration make them): check-convention, reading the products with the kernels, must find +Y."""
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
    res = check_convention([out / "jiram"], camp.metakernel).result
    assert len(res.frames) == camp.n_jiram
    assert res.total_llr < 0 and res.choice in ("+Y", None)
    assert res.status == "confirmed" and res.choice == "+Y", res.to_dict()
