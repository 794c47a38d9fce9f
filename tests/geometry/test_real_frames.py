"""NAIF's real Juno frames kernel, shipped in ioscan/data/naif, and JIRAM's pixel axes on it.

Truth: CSPICE (pxform, sincpt) reading NAIF's juno_v12_mod.tf as is, inside a kernel set written by
ioscan's kernel writer (which only adds the spacecraft CK, SCLK, SPKs and an IK). The numbers asserted here
are the ones docs/jiram_conventions.md records. Pixel rays for sincpt are written out from JIRAM's convention
(lines along −X, samples along −Y, 0-based centre (215.5, 63.5) of a band), independently of ioscan's camera
code; backplanes agree with sincpt to 1e-5° (test_spice_provider checks every backplane to 1e-4°).
"""

from __future__ import annotations

import hashlib
import math
from itertools import permutations

import numpy as np
import pytest
import spice_scenes as sc
import spiceypy as sp

from ioscan.geometry.spice_provider import SpiceGeometry, unload_kernels
from ioscan.geometry.tk_frames import fixed_rotation
from ioscan.instruments import jiram
from ioscan.simulate.kernels import NAMES, write_kernel_set

IFOV = 0.000237767
FK_SHA256 = "ba09c48532c987e26d1181009dcc51f93f3034369f657514eaa520c33c34b453"
CHAIN = ("JUNO_SPACECRAFT", "JUNO_JIRAM_URF", "JUNO_JIRAM_S", "JUNO_JIRAM_I", "JUNO_JIRAM_I_LBAND",
         "JUNO_JIRAM_I_MBAND")  # fmt: skip


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    out = tmp_path_factory.mktemp("real_fk_set")
    mk = write_kernel_set(out, sc.observations(), start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    assert (out / NAMES["fk"]).read_bytes() == jiram.naif_frames_kernel().read_bytes()
    yield SpiceGeometry(mk)
    unload_kernels()


def _pxform(a: str, b: str) -> np.ndarray:
    return np.asarray(sp.pxform(a, b, sp.str2et(sc.T_FAR)))


def _ray(sample: float, line: float) -> np.ndarray:
    """Band-frame direction of a 0-based pixel: lines along −X, samples along −Y."""
    return np.array([-(line - 63.5) * IFOV, -(sample - 215.5) * IFOV, 1.0])


def test_shipped_frames_kernel_is_nafs_file():
    path = jiram.naif_frames_kernel()
    assert path.name == "juno_v12_mod.tf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FK_SHA256  # as CITATIONS.md records it
    text = path.read_text()
    assert "TKFRAME_-61412_ANGLES        = ( 0.0, +0.94012, 0.0 )" in text
    assert "FRAME_-61000_CLASS           = 3" in text  # JUNO_SPACECRAFT is a CK frame


def test_planner_rotations_are_pxform_through_the_real_chain(geo):
    for a, b in permutations(CHAIN, 2):
        assert np.abs(fixed_rotation(a, b, jiram.naif_frames_kernel()) - _pxform(a, b)).max() < 1e-14, (a, b)


def test_band_boresights_sit_69_px_either_side_along_x(geo):
    for frame, sign in (("JUNO_JIRAM_I_LBAND", 1.0), ("JUNO_JIRAM_I_MBAND", -1.0)):
        m = _pxform(frame, "JUNO_JIRAM_I")
        bore = m[:, 2]
        assert math.degrees(math.atan2(bore[0], bore[2])) == pytest.approx(sign * 0.94012, abs=1e-12)
        assert bore[0] / bore[2] / IFOV == pytest.approx(sign * 69.016, abs=1e-3)  # L at +X, M at −X
        assert abs(bore[1]) < 1e-15 and np.allclose(m[:, 1], [0.0, 1.0, 0.0], atol=1e-15)  # Y shared
    spec = _pxform("JUNO_JIRAM_S", "JUNO_JIRAM_I")[:, 2]
    assert spec[0] / spec[2] / IFOV == pytest.approx(-17.50, abs=0.01)  # spectrometer slit: 17.5 px toward −X


def test_jiram_axes_on_the_spacecraft_and_the_spin(geo):
    """+Y of the imager frames is the spin axis (spacecraft +Z), the boresight is perpendicular to it, and +X
    is where a right-handed spin about +Z sweeps the boresight: the along-track (line) direction."""
    m = _pxform("JUNO_JIRAM_I", "JUNO_SPACECRAFT")  # columns: JIRAM_I axes in spacecraft coordinates
    x, y, b = m[:, 0], m[:, 1], m[:, 2]
    assert y[2] > 0.999999
    assert math.degrees(math.asin(b[2])) == pytest.approx(-0.0626, abs=1e-3)
    assert math.degrees(math.atan2(b[1], b[0])) == pytest.approx(164.515, abs=1e-3)
    assert np.cross([0.0, 0.0, 1.0], b) @ x > 0.999999


def test_l_band_fills_the_first_detector_lines(geo):
    """The line sign: a direction seen at L-band line l is at JUNO_JIRAM_I detector line l (0-based), one seen
    at M-band line l at detector line l + 138 (128 L lines + 10 gap lines), to 0.1 px (the band frames are
    turned by 0.94012° = 69.016 px, not shifted by 69 px)."""
    full = geo.camera("JUNO_JIRAM_I")
    for frame, first_line in (("JUNO_JIRAM_I_LBAND", 0.0), ("JUNO_JIRAM_I_MBAND", 138.0)):
        m = _pxform(frame, "JUNO_JIRAM_I")
        for s, ln in ((0.0, 0.0), (431.0, 127.0), (100.0, 20.0), (300.0, 90.0)):
            s_i, l_i, front = full.project(m @ _ray(s, ln))
            assert front and s_i == pytest.approx(s, abs=0.1)
            assert l_i == pytest.approx(ln + first_line, abs=0.1)


@pytest.mark.parametrize(
    ("time_utc", "frame"),
    [
        (sc.T_FAR_GAP, "JUNO_JIRAM_I_LBAND"),
        (sc.T_FAR_GAP, "JUNO_JIRAM_I_MBAND"),
        (sc.T_CLOSE_NADIR, "JUNO_JIRAM_I_LBAND"),
    ],
)
def test_pixel_mapping_against_sincpt(geo, time_utc, frame):
    """ioscan's backplanes at a few pixels (corners, centre, some on the disk) are sincpt's for the rays
    written out from the convention."""
    cam = geo.camera(frame)
    bp = geo.backplanes(time_utc, frame)
    et = sp.str2et(time_utc)
    checked = 0
    on_disk = [(int(s), int(ln)) for ln, s in np.argwhere(bp.on_disk)[::97]]
    for s, ln in [(0, 0), (431, 0), (0, 127), (431, 127), (215, 63), *on_disk]:
        d = _ray(s, ln)
        ours = cam.rays(float(s), float(ln))
        assert np.allclose(ours / np.linalg.norm(ours), d / np.linalg.norm(d), atol=1e-15)
        with sp.no_found_check():
            spoint, _, _, found = sp.sincpt("ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "JUNO", frame, d)
        assert found == bool(bp.on_disk[ln, s]), (s, ln)
        if not found:
            continue
        lon, lat, _ = sp.recpgr("IO", spoint, geo.body.a_km, geo.body.flattening)
        assert bp["lat_deg"][ln, s] == pytest.approx(math.degrees(lat), abs=1e-5)
        dlon = (bp["lon_w_deg"][ln, s] - math.degrees(lon) + 180.0) % 360.0 - 180.0
        assert dlon * math.cos(lat) == pytest.approx(0.0, abs=1e-5)
        checked += 1
    assert checked >= 8
