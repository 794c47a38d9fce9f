"""Re-pointing a frame by an exact rotation (SpiceGeometry.pointing_correction) instead of a pixel shift."""

from __future__ import annotations

import numpy as np
import pytest
import spice_scenes as sc

from ioscan import body
from ioscan.geometry.spice_provider import SpiceGeometry, unload_kernels
from ioscan.simulate.kernels import write_kernel_set


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    out = tmp_path_factory.mktemp("spice_pointing")
    write_kernel_set(out, sc.observations(), start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    yield SpiceGeometry(out / "ioscan.tm")
    unload_kernels()


def _surface(bp, sample, line):
    return body.surface_point_from_lat_pg(
        bp.value_at("lat_deg", sample, line), bp.value_at("lon_w_deg", sample, line)
    )


@pytest.mark.parametrize(
    ("anchor", "offset"), [((215.5, 63.5), (-120.0, 3.0)), ((230.0, 75.0), (80.0, -4.0))]
)
def test_correction_moves_the_anchor_exactly_and_is_a_rotation(geo, anchor, offset):
    frame = "JUNO_JIRAM_I_MBAND"
    w = geo.pointing_correction(sc.T_FAR, frame, anchor, offset)
    assert np.allclose(w @ w.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(w), 1.0)
    before = geo.backplanes(sc.T_FAR, frame)
    after = geo.backplanes(sc.T_FAR, frame, pointing_correction_j2000=w)
    assert before.on_disk[int(anchor[1]), int(anchor[0])], "the anchor must be on the disk in this scene"
    p0 = _surface(before, *anchor)
    p1 = _surface(after, anchor[0] + offset[0], anchor[1] + offset[1])
    scale = before.value_at("pixel_scale_km", *anchor)
    assert np.linalg.norm(p1 - p0) / scale < 0.02  # bilinear interpolation of the backplanes is the limit


def test_the_same_rotation_repoints_the_other_band(geo):
    """Both bands sit on one detector: one rotation W serves both (a pure shift in the L band too)."""
    w = geo.pointing_correction(sc.T_FAR_GAP, "JUNO_JIRAM_I_MBAND", (215.5, 63.5), (-100.0, 0.0))
    before = geo.backplanes(sc.T_FAR_GAP, "JUNO_JIRAM_I_LBAND")
    after = geo.backplanes(sc.T_FAR_GAP, "JUNO_JIRAM_I_LBAND", pointing_correction_j2000=w)
    disk = np.argwhere(before.on_disk)
    assert len(disk), "the L band sees part of the disk in this scene"
    line, sample = disk[len(disk) // 2]
    p0 = _surface(before, float(sample), float(line))
    # the scene moved by about −100 px along the samples in the L band as well
    shifted = [
        np.linalg.norm(_surface(after, sample + ds, float(line)) - p0)
        for ds in np.arange(-101.0, -98.9, 0.05)
        if 0 <= sample + ds <= 431
    ]
    assert shifted and min(shifted) / before.value_at("pixel_scale_km", float(sample), float(line)) < 0.6
