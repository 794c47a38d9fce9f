"""Backplanes traced on the predicted disk's box only are those of the whole frame, bit for bit.

``spice_provider._spice_arrays`` traces rays only in the box around the predicted limb (plus the near-miss
distance and a margin); every backplane value it writes must be the one the whole-frame solution gives, and
every pixel the whole-frame solution puts on the disk must be in the box. The whole-frame solution is the
same function with the box switched off; it is itself checked against per-pixel ``sincpt``/``ilumin`` in
``test_spice_provider.py``. Scenes: a far disk (box ≪ frame), each band seeing part of the disk, a close
limb, and a re-pointed frame (a 2° correction, as a limb registration applies).
"""

from __future__ import annotations

import numpy as np
import pytest
import spice_scenes as sc

from ioscan.geometry import spice_provider
from ioscan.geometry.spice_provider import SpiceGeometry, spice_geometry, unload_kernels
from ioscan.simulate.kernels import write_kernel_set

BANDS = ("JUNO_JIRAM_I_LBAND", "JUNO_JIRAM_I_MBAND")


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("spice_box")
    write_kernel_set(out, sc.observations(), start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    yield out
    unload_kernels()


def _both(geo: SpiceGeometry, monkeypatch, time_utc, frame, **kw):
    boxed = geo.backplanes(time_utc, frame, **kw)
    with monkeypatch.context() as m:
        m.setattr(spice_provider, "_disk_box", lambda limb, margin: None)
        whole = geo.backplanes(time_utc, frame, **kw)
    return boxed, whole


@pytest.mark.parametrize("time_utc", [sc.T_FAR, sc.T_FAR_GAP, sc.T_CLOSE_LIMB])
@pytest.mark.parametrize("frame", BANDS)
def test_box_equals_whole_frame(kernel_dir, monkeypatch, time_utc, frame):
    geo = SpiceGeometry(kernel_dir / "ioscan.tm")
    boxed, whole = _both(geo, monkeypatch, time_utc, frame)
    for name, arr in whole.arrays.items():
        np.testing.assert_array_equal(boxed[name], arr, err_msg=name)
    np.testing.assert_array_equal(boxed.limb_conic_px, whole.limb_conic_px)


def test_box_is_used_and_holds_the_disk(kernel_dir):
    """On a far frame the box is a small part of the frame and holds every on-disk pixel with room."""
    geo = SpiceGeometry(kernel_dir / "ioscan.tm")
    bp = geo.backplanes(sc.T_FAR, "JUNO_JIRAM_I_MBAND")
    limb = bp["limb_distance_px"]
    box = spice_provider._disk_box(limb, spice_provider._BOX_MARGIN_PX)
    assert box is not None and (box[1] - box[0]) * (box[3] - box[2]) < 0.5 * limb.size
    lines, samples = np.nonzero(bp.on_disk)
    assert lines.size > 100
    assert lines.min() >= box[0] + 3 and lines.max() < box[1] - 3
    assert samples.min() >= box[2] + 3 and samples.max() < box[3] - 3


@pytest.mark.parametrize("frame", BANDS)
def test_box_equals_whole_frame_repointed(kernel_dir, monkeypatch, frame):
    """A 2° correction along track (as a limb registration applies) moves the disk: the box follows it."""
    geo = SpiceGeometry(kernel_dir / "ioscan.tm")
    w = geo.pointing_correction(sc.T_FAR, frame, (215.5, 63.5), (3.0, -140.0))
    boxed, whole = _both(geo, monkeypatch, sc.T_FAR, frame, pointing_correction_j2000=w)
    for name, arr in whole.arrays.items():
        np.testing.assert_array_equal(boxed[name], arr, err_msg=name)


def test_spice_geometry_is_cached_per_kernel_set(kernel_dir):
    mk = kernel_dir / "ioscan.tm"
    first = spice_geometry(mk)
    assert spice_geometry(str(mk)) is first
    assert spice_geometry(mk, target="io") is first
    unload_kernels(mk)
    again = spice_geometry(mk)
    assert again is not first
    np.testing.assert_array_equal(
        again.backplanes(sc.T_FAR, BANDS[1])["lat_deg"], first.backplanes(sc.T_FAR, BANDS[1])["lat_deg"]
    )
