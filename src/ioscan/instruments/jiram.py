"""Juno JIRAM imager facts (JIRAM SIS issue 7.5; NAIF JIRAM IK; DESIGN.md §4).

Product layout: detector lines 1–128 are the L band, 139–266 the M band (10 gap lines). Modes:
I1 = L+M (256 product lines: rows 0–127 L, rows 128–255 M, gap removed), I2 = M only, I3 = L only
(128 lines each). 432 samples across.

Pixel axes under NAIF's real frames (``docs/jiram_conventions.md``): each imager frame (JUNO_JIRAM_I, _LBAND,
_MBAND) has +Z on the boresight, +X along track (the spin direction, the CCD columns) and +Y across track,
parallel to the spacecraft spin axis. The kernels fix that lines run along X and samples along Y (the FOV is
128 lines × 432 samples) and the line sign (the L band sits at +X and fills detector lines 1–128, product rows
0–127, so lines run along −X). They do not fix the sample sign: :data:`PIXEL_AXES` declares samples along −Y,
as the independent codes that navigate real JIRAM frames do; it is still to be confirmed on real frames
(issue 10). Products are then mirrored compared with a view along the boresight.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ioscan.geometry.camera import DetectorLayout, PixelAxes

IFOV_RAD = 0.000237767
N_SAMPLES = 432
N_LINES_PER_BAND = 128
GAP_LINES = 10

NAIF_ID_JUNO = -61
NAIF_ID_JIRAM_I = -61410
NAIF_ID_JIRAM_I_LBAND = -61411
NAIF_ID_JIRAM_I_MBAND = -61412
SPACECRAFT_FRAME = "JUNO_SPACECRAFT"
JIRAM_I_FRAME = "JUNO_JIRAM_I"
#: detector lines of the whole imager (JUNO_JIRAM_I): L 1–128, gap 129–138, M 139–266
DETECTOR_LINES = 2 * N_LINES_PER_BAND + GAP_LINES
DATA_SET_ID = "JNO-J-JIRAM-3-RDR-V1.0"


@dataclass(frozen=True)
class JiramBand:
    """One JIRAM imager filter (SIS band limits)."""

    name: str
    center_um: float
    low_um: float
    high_um: float
    spice_frame: str
    naif_id: int

    @property
    def bandwidth_um(self) -> float:
        return self.high_um - self.low_um


L_BAND = JiramBand("L", 3.455, 3.320, 3.600, "JUNO_JIRAM_I_LBAND", NAIF_ID_JIRAM_I_LBAND)
M_BAND = JiramBand("M", 4.780, 4.5375, 5.035, "JUNO_JIRAM_I_MBAND", NAIF_ID_JIRAM_I_MBAND)
BANDS: dict[str, JiramBand] = {"L": L_BAND, "M": M_BAND}

#: mode → band names in product order (top rows first)
MODES: dict[str, tuple[str, ...]] = {"I1": ("L", "M"), "I2": ("M",), "I3": ("L",)}


def mode_from_label(instrument_mode_id: str) -> str:
    """'SCI_I1_S3' → 'I1'. Raises ValueError for a non-imager mode."""
    for part in str(instrument_mode_id).upper().split("_"):
        if part in MODES:
            return part
    raise ValueError(f"not a JIRAM imager mode: {instrument_mode_id!r}")


def pixel_scale_km(range_km: float) -> float:
    """Pixel footprint at normal view, km/px (range × IFOV)."""
    return range_km * IFOV_RAD


# ------------------------------------------------------------------------------------- pixel axes (issue 10)
#: Lines along −X (settled by the kernels), samples along −Y (declared: NAIF's kernels leave the sign open;
#: rms-oops, jiram_catalog and volcanopele/juno use −Y for the samples as stored; unconfirmed on real frames).
SAMPLE_SIGN_Y = -1.0
PIXEL_AXES = PixelAxes(
    sample_axis=(0.0, SAMPLE_SIGN_Y, 0.0), line_axis=(-1.0, 0.0, 0.0), boresight=(0.0, 0.0, 1.0)
)
#: SPICE frame → pixel layout (0-based centre pixel = the frame's boresight). The band frames' boresights sit
#: ±0.94012° (69.0 px) from JUNO_JIRAM_I's along X, at detector lines 63.5 (L) and 201.5 (M), 0-based.
DETECTORS: dict[str, DetectorLayout] = {
    JIRAM_I_FRAME: DetectorLayout(
        N_SAMPLES, DETECTOR_LINES, (N_SAMPLES - 1) / 2, (DETECTOR_LINES - 1) / 2, PIXEL_AXES
    ),
    **{
        band.spice_frame: DetectorLayout(
            N_SAMPLES, N_LINES_PER_BAND, (N_SAMPLES - 1) / 2, (N_LINES_PER_BAND - 1) / 2, PIXEL_AXES
        )
        for band in BANDS.values()
    },
}


# ----------------------------------------------------------------------------- NAIF's frames kernel (FK)
FK_NAME = "juno_v12_mod.tf"


def naif_frames_kernel() -> Path:
    """NAIF's Juno frames kernel shipped with ioscan (``ioscan/data/naif``, see CITATIONS.md there)."""
    return Path(str(resources.files("ioscan") / "data" / "naif" / FK_NAME))


def _frame_rotation(angle_rad: float, axis: int) -> np.ndarray:
    """SPICE's [angle]_axis: the matrix giving coordinates in a frame turned by ``angle`` about ``axis``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    i, j = [(1, 2), (2, 0), (0, 1)][axis - 1]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, s, -s, c
    return m


@lru_cache(maxsize=1)
def _tk_frames() -> dict[str, tuple[str, np.ndarray]]:
    """Frame name → (RELATIVE frame, matrix rotating the frame's vectors into RELATIVE) for every TK frame of
    the shipped FK defined with ``TKFRAME_<id>_SPEC = 'ANGLES'``.

    SPICE builds that matrix as [angle_1]_axis_1 · [angle_2]_axis_2 · [angle_3]_axis_3 (Frames Required
    Reading, "TK frames"); the JIRAM blocks of the FK say the same in words.
    """
    text = naif_frames_kernel().read_text()
    data = "\n".join(part.split("\\begintext")[0] for part in text.split("\\begindata")[1:])
    names = dict(re.findall(r"FRAME_(-?\d+)_NAME\s*=\s*'([^']+)'", data))
    keys: dict[str, dict[str, str]] = {}
    for code, key, value in re.findall(r"TKFRAME_(-?\d+)_(\w+)\s*=\s*(\([^)]*\)|'[^']*')", data):
        keys.setdefault(code, {})[key] = value.strip("()' ")
    out = {}
    for code, kw in keys.items():
        if kw.get("SPEC") != "ANGLES" or code not in names:
            continue
        scale = math.pi / 180.0 if kw.get("UNITS", "RADIANS").upper() == "DEGREES" else 1.0
        angles = [float(v) * scale for v in kw["ANGLES"].replace(",", " ").split()]
        axes = [int(float(v)) for v in kw["AXES"].replace(",", " ").split()]
        m = np.eye(3)
        for angle, axis in zip(angles, axes, strict=True):
            m = m @ _frame_rotation(angle, axis)
        out[names[code]] = (kw["RELATIVE"], m)
    return out


def fixed_rotation(frame: str, to: str) -> np.ndarray:
    """Matrix rotating vectors of ``frame`` into ``to`` through the shipped FK's fixed (TK) frames, as SPICE's
    ``pxform(frame, to, et)`` gives it; both must hang on the same non-TK frame (e.g. JUNO_SPACECRAFT)."""
    tk = _tk_frames()

    def to_root(name: str) -> tuple[str, np.ndarray]:
        m = np.eye(3)
        while name in tk:
            name, step = tk[name][0], tk[name][1]
            m = step @ m
        return name, m

    root_a, a = to_root(frame)
    root_b, b = to_root(to)
    if root_a != root_b:
        raise ValueError(f"{frame} and {to} are not tied by fixed frames ({root_a} vs {root_b})")
    return b.T @ a
