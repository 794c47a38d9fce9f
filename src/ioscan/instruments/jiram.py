"""Juno JIRAM imager facts (JIRAM SIS issue 7.5; NAIF JIRAM IK; DESIGN.md §4).

Product layout: detector lines 1–128 are the L band, 139–266 the M band (10 gap lines). Modes:
I1 = L+M (256 product lines: rows 0–127 L, rows 128–255 M, gap removed), I2 = M only, I3 = L only
(128 lines each). 432 samples across.
"""

from __future__ import annotations

from dataclasses import dataclass

IFOV_RAD = 0.000237767
N_SAMPLES = 432
N_LINES_PER_BAND = 128
GAP_LINES = 10

NAIF_ID_JUNO = -61
NAIF_ID_JIRAM_I = -61410
NAIF_ID_JIRAM_I_LBAND = -61411
NAIF_ID_JIRAM_I_MBAND = -61412
SPACECRAFT_FRAME = "JUNO_SPACECRAFT"
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
