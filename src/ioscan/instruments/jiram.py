"""Juno JIRAM imager facts (JIRAM SIS issue 7.5; NAIF JIRAM IK; docs/architecture.md) and its registry entry.

Product layout: detector lines 1–128 are the L band, 139–266 the M band (10 gap lines). Modes:
I1 = L+M (256 product lines: rows 0–127 L, rows 128–255 M, gap removed), I2 = M only, I3 = L only
(128 lines each). 432 samples across.

Pixel axes under NAIF's real frames (``docs/jiram_conventions.md``): each imager frame (JUNO_JIRAM_I, _LBAND,
_MBAND) has +Z on the boresight, +X along track (the spin direction, the CCD columns) and +Y across track,
parallel to the spacecraft spin axis. The kernels fix that lines run along X and samples along Y (the FOV is
128 lines × 432 samples) and the line sign (the L band sits at +X and fills detector lines 1–128, product rows
0–127, so lines run along −X). They do not fix the sample sign: :data:`PIXEL_AXES` declares samples along −Y,
as the independent codes that navigate real JIRAM frames do; ``ioscan check-convention`` tests it on frames.
Products are then mirrored compared with a view along the boresight.

PSF: Gaussian core σ 0.6 px (96 %) + wings σ 2.5 px (4 %) — the project's model, not a calibration; the
simulator renders with it and the detector fits it. A limb edge is blurred as by σ 0.7 px (the core
broadened by the wings; 0.6 registers the simulated campaign 0.03–0.08 px worse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ioscan.instruments.base import (
    ArtefactModel,
    Band,
    DetectorLayout,
    Instrument,
    PhotometryPrior,
    PixelAxes,
    PointingPrior,
)
from ioscan.instruments.psf import GaussianMixture

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
#: NAIF's Juno frames kernel shipped in ``ioscan/data/naif`` (see CITATIONS.md there)
FRAMES_KERNEL = "juno_v12_mod.tf"
DATA_SET_ID = "JNO-J-JIRAM-3-RDR-V1.0"

#: PSF model: weights and Gaussian σ (px) of the core and the wings
PSF_WEIGHTS = (0.96, 0.04)
PSF_SIGMAS_PX = (0.6, 2.5)
#: photometry beyond photon noise (ioscan.measure.errors). Calibration: an assumed 10 % (1σ) — the sources
#: shipped with ioscan state no flight radiometric accuracy for the imager, and cross-calibration with the
#: spectrometer shows M-band non-linearity for bright sources (Tosi et al. 2025, Front. Astron. Space Sci. 12,
#: 1668185); set ``measure.calibration_err_fraction`` from your calibration. PSF model: fitting this model
#: to the independent renderer's σ 0.8 px Gaussian gives fluxes 21–23 % low at every S/N (bench_pulls), so
#: the model's flux scale is uncertain by ~20 % until the PSF is calibrated. Flat field: assumed — no document
#: ioscan ships (JIRAM SIS, NAIF IK, the real label) states the imager's flat-field accuracy; calibrated
#: infrared arrays leave residuals of a few tenths of a per cent to ~1 %, so ioscan assumes 0.4 % rms pixel to
#: pixel (a source's flux averages it over its PSF: 0.20–0.28 % for the 0.6-px core) and 0.3 % rms in a
#: column response common to the 3–5 columns a source covers: 0.36–0.41 % on a source in all. ioscan's
#: simulator draws that assumption (``simulate/flatfield.py``: a fixed pixel map, a smooth column response
#: per image); the independent renderer draws another structure of about the same size (white column gains
#: 0.1–0.5 % rms per frame, 0.32 % on average, 0.21–0.27 % over a source's columns; in 30 % of frames a block
#: of 20–200 columns 0.5–2 % off, ~8 % of sources), on which the term is checked (bench_pulls). Full well:
#: an assumed 2e6 e⁻ — no document ioscan ships (JIRAM SIS, NAIF IK, the real label) gives the imager's
#: gain or well depth, and RDR labels give no saturation level, so on archive products the sources' shot
#: noise is seen only through the fit's χ²; ioscan's simulator assumes 2e6 e⁻ (``simulate/render_jiram.py``),
#: the independent renderer 2.5e5 (``simulate/independent/detector.py``): set ``measure.full_well_e``.
PHOTOMETRY = PhotometryPrior(
    calibration_err_fraction=0.10,
    psf_model_err_fraction=0.20,
    flat_field_err_fraction=0.004,
    flat_field_column_err_fraction=0.003,
    full_well_e=2.0e6,
    source="calibration assumed (10 %); PSF-model scale measured against the independent renderer (20 %); "
    "flat field assumed (0.4 % pixel, 0.3 % column); full well assumed (2e6 e-)",
)
#: σ (px) of the blur of a limb edge used by the limb fit
LIMB_PSF_SIGMA_PX = 0.7
#: the spin direction in the imager frames (NAIF FK: "+X ... pointing in the along-track direction resulting
#: from the spacecraft rotation"); the despinning mirror turns in the plane perpendicular to the spin axis, so
#: its residual pointing error moves the scene along this axis
ALONG_TRACK_FRAME_AXIS = (1.0, 0.0, 0.0)
#: reconstructed pointing error along track: "up to ~2°" as users of the archive report it (the bound); the
#: 1σ of 0.7° is ioscan's assumption (the simulator draws from it), degrees
ALONG_TRACK_SIGMA_DEG = 0.7
ALONG_TRACK_MAX_DEG = 2.0
#: across track "a few pixels": 1σ and bound, px (a little wider than the simulator's 2 px clipped at 5 px)
CROSS_TRACK_SIGMA_PX = 3.0
CROSS_TRACK_MAX_PX = 8.0

L_BAND = Band.from_limits(
    "L", 3.455, 3.320, 3.600, spice_frame="JUNO_JIRAM_I_LBAND", naif_id=NAIF_ID_JIRAM_I_LBAND
)
M_BAND = Band.from_limits(
    "M",
    4.780,
    4.5375,
    5.035,
    spice_frame="JUNO_JIRAM_I_MBAND",
    naif_id=NAIF_ID_JIRAM_I_MBAND,
    first_detector_line=N_LINES_PER_BAND + GAP_LINES + 1,
)
BANDS: dict[str, Band] = {"L": L_BAND, "M": M_BAND}

#: Lines along −X (settled by the kernels), samples along −Y (declared: NAIF's kernels leave the sign open;
#: rms-oops, jiram_catalog and volcanopele/juno use −Y for the samples as stored; to be confirmed on frames).
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


def _deg_px(deg: float) -> float:
    return math.tan(math.radians(deg)) / IFOV_RAD


#: the pixel axis along track: lines (lines run along −X, see :data:`PIXEL_AXES`)
ALONG_TRACK_AXIS = PIXEL_AXES.axis_along(ALONG_TRACK_FRAME_AXIS)
#: kernels and labels carry the same reconstructed pointing (a label's geometry comes from the same CK)
POINTING = PointingPrior.along_track(
    ALONG_TRACK_AXIS,
    _deg_px(ALONG_TRACK_SIGMA_DEG),
    _deg_px(ALONG_TRACK_MAX_DEG),
    CROSS_TRACK_SIGMA_PX,
    CROSS_TRACK_MAX_PX,
)

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


def naif_frames_kernel() -> Path:
    """Path of NAIF's Juno frames kernel shipped with ioscan (:data:`FRAMES_KERNEL`)."""
    return Path(str(resources.files("ioscan") / "data" / "naif" / FRAMES_KERNEL))


@dataclass(frozen=True)
class Jiram(Instrument):
    """The JIRAM imager (L and M bands)."""

    def psf(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> GaussianMixture:
        return GaussianMixture(PSF_WEIGHTS, PSF_SIGMAS_PX)

    def limb_psf_sigma_px(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> float:
        return LIMB_PSF_SIGMA_PX


JIRAM = Jiram(
    name="JIRAM",
    aliases=("JIR", "JIRAM", "JOVIAN INFRARED AURORAL MAPPER"),
    observer="JUNO",
    bands=BANDS,
    artefacts=ArtefactModel(column_streaks=True, ring_radius_px=10.0),
    pointing=POINTING,
    label_pointing=POINTING,
    detectors=DETECTORS,
    label_axes=PIXEL_AXES,
    photometry=PHOTOMETRY,
)
