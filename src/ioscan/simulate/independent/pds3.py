"""Write rendered frames as real-archive-style JIRAM imager RDRs: ``.IMG`` + detached ``.LBL``.

The label follows the real ``JIR_IMG_RDR_2017033T114006_V02.LBL`` (orbit 4, SCI_I2_S1) keyword by keyword and
in the same order and structure (top-level identification, celestial/solar/target geometry,
``L_BAND_PARAMETERS`` and ``M_BAND_PARAMETERS`` groups, instrument status, ``OBJECT = FILE`` holding ``UNIT``,
``^IMAGE``, ``OBJECT = IMAGE``, ``OBJECT = HISTORY`` and ``SPICE_FILE_NAME``), with ``TARGET_NAME = "IO"`` and
**no geometry**: every geometry value is ``"N/A"`` (or the groups are left out with ``geometry="absent"``), as
in archive products whose geometry is not filled. Nothing outside the real keyword set is written (no
saturation level, no disk centre): a reader must find what it needs in the pixels, as with real products.

Data: headerless little-endian float32, lines × 432, as the archive's (whose labels say ``IEEE_REAL``, i.e.
big-endian, while the bytes are little-endian). ``UNIT`` is the SIS's ``W/(m^2*sr)`` by default;
``label_unit`` can give the older products' ``W/(m^2*sr*micron)``.

``JNO:TARGET_PRESENCE_FLAG``: 15 digits; the real Jupiter I2 label has "000000000010000" (digit 10 set). Read
as three groups of five (spectrometer, L image, M image), the first digit of each for the labelled target, as
one public JIRAM user script reads it; an inference from one label, not an SIS definition.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from ioscan.simulate.independent.render import RenderedFrame

DATA_SET_ID = "JNO-J-JIRAM-3-RDR-V1.0"
SIS_UNIT = "W/(m^2*sr)"
LEGACY_UNIT = "W/(m^2*sr*micron)"
MODE_DESC = {
    "I1": "IMAGE(256x432) L-Band and M-Band",
    "I2": "IMAGE(128x432) M-Band",
    "I3": "IMAGE(128x432) L-Band",
}
BAND_KEYS = (
    ("/* Illumination Filter {b} */", ("INCIDENCE_ANGLE", "EMISSION_ANGLE", "PHASE_ANGLE")),
    (
        "/* Image filter {b} parameters*/",
        (
            "SLANT_DISTANCE",
            "MINIMUM_LATITUDE",
            "CENTER_LATITUDE",
            "MAXIMUM_LATITUDE",
            "WESTERNMOST_LONGITUDE",
            "CENTER_LONGITUDE",
            "EASTERNMOST_LONGITUDE",
            "HORIZONTAL_PIXEL_SCALE",
            "VERTICAL_PIXEL_SCALE",
            "NORTH_AZIMUTH",
            "LINE_FIRST_PIXEL",
            "SAMPLE_FIRST_PIXEL",
        ),
    ),
)
#: SPICE kernels a real product of 2023 would list (names only; nothing is written or needed)
SPICE_FILES = (
    "juno_v12.tf",
    "juno_jiram_v02.ti",
    "naif0012.tls",
    "pck00010.tpc",
    "JNO_SCLKSCET.00150.tsc",
    "de440s.bsp",
    "jup365.bsp",
)
NA = '"N/A"'


def _kw(key: str, value: str, indent: str = "") -> str:
    return f"{indent}{key:<{31 - len(indent)}}= {value}"


def _utc(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", ""))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _label_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def product_id_for(start_utc: str, version: int = 1) -> str:
    """``JIR_IMG_RDR_YYYYDDDTHHMMSS_Vnn`` of an exposure start time."""
    return f"JIR_IMG_RDR_{_utc(start_utc).strftime('%Y%jT%H%M%S')}_V{version:02d}"


def sclk_string(t: datetime) -> str:
    """A plausible Juno clock string "1/seconds:ticks" (seconds since 2000-01-01 UTC; not a real clock)."""
    dt = (t - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()
    return f"1/{int(dt)}:{int((dt % 1) * 65536):05d}"


def presence_flag(bands_with_io: set[str]) -> str:
    """15-digit ``JNO:TARGET_PRESENCE_FLAG`` for the labelled target (see module docstring)."""
    digits = ["0"] * 15
    for band, pos in (("L", 5), ("M", 10)):
        if band in bands_with_io:
            digits[pos] = "1"
    return "".join(digits)


def _vector_na(n: int) -> str:
    """A sequence of ``n`` "N/A" values laid out like the real label's vectors."""
    return "( " + f",\n{' ' * 35}".join([NA] * n) + " )"


def _celestial_solar_lines() -> list[str]:
    """Celestial and solar geometry keywords of the real label, all "N/A"."""
    out = ["/* Celestial Geometry */"]
    out += [
        _kw(k, NA) for k in ("RIGHT_ASCENSION", "DECLINATION", "TWIST_ANGLE", "CELESTIAL_NORTH_CLOCK_ANGLE")
    ]
    out += [
        _kw("QUATERNION", _vector_na(4)),
        _kw("QUATERNION_DESC", '"Geometry not computed for this product."'),
    ]
    out += ["/* Solar Geometry */", _kw("SPACECRAFT_SOLAR_DISTANCE", NA)]
    out += [_kw("SC_SUN_POSITION_VECTOR", _vector_na(3)), _kw("SC_SUN_VELOCITY_VECTOR", _vector_na(3))]
    return out


def _target_geometry_lines() -> list[str]:
    """Target geometry keywords and the two band groups of the real label, all "N/A"."""
    out = ['/* Geometry in "IAU_IO" */']
    for k in (
        "SUB_SPACECRAFT_LATITUDE",
        "SUB_SPACECRAFT_LONGITUDE",
        "SUB_SPACECRAFT_AZIMUTH",
        "SPACECRAFT_ALTITUDE",
        "TARGET_CENTER_DISTANCE",
    ):
        out.append(_kw(k, NA))
    out += [_kw("SC_TARGET_POSITION_VECTOR", _vector_na(3)), _kw("SC_TARGET_VELOCITY_VECTOR", _vector_na(3))]
    out += [_kw(k, NA) for k in ("SUB_SOLAR_LATITUDE", "SUB_SOLAR_LONGITUDE", "SUB_SOLAR_AZIMUTH")] + [""]
    for b in ("L", "M"):
        out.append(f"GROUP = {b}_BAND_PARAMETERS")
        for comment, keys in BAND_KEYS:
            out.append("   " + comment.format(b=b))
            out += [f"   {k:<23}= {NA}" for k in keys]
        out += [f"END_GROUP = {b}_BAND_PARAMETERS", ""]
    return out


def _target_lines(geometry: str, target_pixels: int, flag: str, orbit: int) -> list[str]:
    """Orbit, target identification, coordinate system and (unless absent) the target geometry."""
    out = [
        _kw("ORBIT_NUMBER", str(int(orbit))),
        _kw("TARGET_NAME", '"IO"'),
        _kw("TARGET_TYPE", '"SATELLITE"'),
        _kw("TARGET_PIXELS", str(int(target_pixels))),
        _kw("JNO:TARGET_PRESENCE_FLAG", f'"{flag}"'),
        "",
        "/* COORDINATE SYSTEM */",
        _kw("COORDINATE_SYSTEM_NAME", '"PLANETOCENTRIC"'),
        _kw("COORDINATE_SYSTEM_CENTER_NAME", '"IO"'),
        "",
    ]
    return out + (_target_geometry_lines() if geometry == "na" else [])


def build_label(
    frame: RenderedFrame,
    *,
    product_id: str,
    img_name: str,
    md5: str,
    orbit: int = 50,
    geometry: str = "na",
    label_unit: str = SIS_UNIT,
    creation_time_utc: str = "2024-01-01T00:00:00.000",
) -> str:
    """The ``.LBL`` text of a rendered frame (see the module docstring)."""
    p = frame.params
    start = _utc(p.start_time_utc)
    stop = start + timedelta(seconds=p.exposure_s)
    lines, samples = frame.image.shape
    on_disk = {b: int(np.count_nonzero(rb.on_disk_fraction > 0.5)) for b, rb in frame.bands.items()}
    mode_id = f"SCI_{p.mode}_S1"
    onboard = p.detector.bg_subtracted_w_m2_sr > 0
    out = [
        _kw("PDS_VERSION_ID", "PDS3"),
        "",
        "/* Dataset and Product Information */",
        _kw("DATA_SET_NAME", '"JUNO JUPITER JIRAM REDUCED DATA RECORD V1.0"'),
        _kw("DATA_SET_ID", f'"{DATA_SET_ID}"'),
        _kw("PRODUCT_ID", product_id),
        _kw("PRODUCT_TYPE", "RDR"),
        _kw("PROCESSING_LEVEL_ID", '"3"'),
        _kw("START_TIME", _label_time(start)),
        _kw("STOP_TIME", _label_time(stop)),
        _kw("SPACECRAFT_CLOCK_START_COUNT", f'"{sclk_string(start)}"'),
        _kw("SPACECRAFT_CLOCK_STOP_COUNT", f'"{sclk_string(stop)}"'),
        _kw("STANDARD_DATA_PRODUCT_ID", '"IMAGE"'),
        _kw("PRODUCER_FULL_NAME", '"IOSCAN INDEPENDENT RENDERER"'),
        _kw("INSTITUTION_NAME", '"SIMULATED PRODUCT"'),
        _kw("PRODUCT_CREATION_TIME", creation_time_utc),
        _kw("PRODUCT_VERSION_ID", f'"{product_id.rsplit("_V", 1)[-1]}"'),
        _kw("SEQUENCE_NUMBER", "1"),
        _kw("SEQUENCE_SAMPLES", "1"),
        _kw("MD5_CHECKSUM", f'"{md5}"'),
        "",
        "/* Mission description parameters */",
        _kw("INSTRUMENT_HOST_NAME", '"JUNO"'),
        _kw("INSTRUMENT_HOST_ID", '"JNO"'),
        _kw("COMMAND_FILE_NAME", NA),
        _kw("MISSION_PHASE_NAME", '"EXTENDED MISSION"'),
        "",
        "/* Instrument description parameters */",
        _kw("INSTRUMENT_NAME", '"JOVIAN INFRARED AURORAL MAPPER"'),
        _kw("INSTRUMENT_ID", '"JIR"'),
        _kw("INSTRUMENT_TYPE", '"INFRARED IMAGING SPECTROMETER"'),
        _kw("SOFTWARE_VERSION_ID", '("EGSE_208", "PDS_RDR_v9")'),
        "",
        "",
    ]
    if geometry == "na":
        out += _celestial_solar_lines()
    flag = presence_flag({b for b, n in on_disk.items() if n})
    out += _target_lines(geometry, sum(on_disk.values()), flag, orbit)
    out += [
        "/* Instrument status */",
        _kw("CHANNEL_ID", '"1"       /* 0:SPECTRUM IR; 1:IMAGE */'),
        _kw("INSTRUMENT_MODE_ID", mode_id),
        _kw(
            "INSTRUMENT_MODE_DESC",
            f'\n" {mode_id}: Science, {MODE_DESC[p.mode]}, SPECTRUM (256x336) High Spatial',
        ),
        'and High Spectral "',
        "",
        _kw("OBJECT", "FILE"),
        _kw("RECORD_TYPE", "FIXED_LENGTH", "   "),
        _kw("FILE_RECORDS", str(lines), "   "),
        _kw("RECORD_BYTES", str(samples * 4), "   "),
        _kw("FRAME_TYPE", '"SCIENCE"', "   "),
        _kw("DATA_QUALITY_ID", '"1"', "   "),
        _kw("DATA_QUALITY_DESC", '"0:INCOMPLETE; 1:COMPLETE"', "   "),
        _kw("UNIT", f'"{label_unit}"', "   "),
        _kw("^IMAGE", f'"{img_name}"', "   "),
        "",
        "/* Data Object pointers */",
        _kw("OBJECT", "IMAGE"),
        _kw("LINES", str(lines), "   "),
        _kw("LINE_SAMPLES", str(samples), "   "),
        _kw("SAMPLE_TYPE", "IEEE_REAL", "   "),
        _kw("SAMPLE_BITS", "32", "   "),
        _kw("END_OBJECT", "IMAGE"),
        "",
        _kw("OBJECT", "HISTORY"),
        _kw("CALIBRATION_SOURCE_ID", '"JIR_IMG_M_RESPONSIVITY_V02.DAT"', "   "),
        _kw("SOURCE_PRODUCT_ID", f'"{product_id.replace("_RDR_", "_EDR_")}.IMG"', "   "),
        _kw("NOTE", f'" SUBTRACTION BACKGROUND ON BOARD {"ENABLED" if onboard else "DISABLED"} "', "   "),
        _kw("END_OBJECT", "HISTORY"),
        "",
        _kw("SPICE_FILE_NAME", ""),
        "{" + ",\n".join(f'"{n}"' for n in SPICE_FILES) + "\n}",
        _kw("END_OBJECT", "FILE"),
        "END",
    ]
    return "\n".join(out) + "\n"


def write_product(
    frame: RenderedFrame,
    out_dir: Path,
    *,
    product_id: str | None = None,
    orbit: int = 50,
    geometry: str = "na",
    label_unit: str = SIS_UNIT,
) -> Path:
    """Write ``<product_id>.IMG`` (little-endian float32, no header) and ``<product_id>.LBL``; return the LBL.

    Args:
        frame: a rendered frame (its whole product array: I1 256 × 432, I2/I3 128 × 432).
        out_dir: directory (created if missing).
        product_id: default from the scene's start time (``JIR_IMG_RDR_YYYYDDDTHHMMSS_V01``).
        orbit: ``ORBIT_NUMBER``.
        geometry: "na" (geometry keywords present, all "N/A") or "absent" (left out).
        label_unit: ``UNIT`` string (SIS: ``W/(m^2*sr)``; older products: ``W/(m^2*sr*micron)``).
    """
    if geometry not in ("na", "absent"):
        raise ValueError(f"geometry must be 'na' or 'absent', not {geometry!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pid = product_id or product_id_for(frame.params.start_time_utc)
    data = np.ascontiguousarray(frame.image, dtype="<f4").tobytes()
    img = out_dir / f"{pid}.IMG"
    img.write_bytes(data)
    label = build_label(
        frame,
        product_id=pid,
        img_name=img.name,
        md5=hashlib.md5(data).hexdigest(),
        orbit=orbit,
        geometry=geometry,
        label_unit=label_unit,
    )
    lbl = out_dir / f"{pid}.LBL"
    lbl.write_text(label, encoding="ascii")
    return lbl
