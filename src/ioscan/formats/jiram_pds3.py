"""Juno JIRAM imager RDRs: PDS3 ``.IMG`` + detached ``.LBL`` (reader and writer).

Products: ``JIR_IMG_RDR_YYYYDDDTHHMMSS_Vnn`` (``.IMG`` raw float32 image, no header, with a detached
``.LBL``), data set ``JNO-J-JIRAM-3-RDR-V1.0``, volumes ``JNOJIR_2nnn`` (nnn = orbit). Spectrometer
products (``JIR_SPE_RDR_*``) and EDRs are not imager RDRs and are refused.

Label shape (as in real archive labels, e.g. ``JIR_IMG_RDR_2017033T114006_V02.LBL``): identification and
geometry keywords at the top level, ``L_BAND_PARAMETERS`` / ``M_BAND_PARAMETERS`` groups, then an
``OBJECT = FILE`` holding ``RECORD_TYPE``, ``FILE_RECORDS``, ``RECORD_BYTES``, ``UNIT``, the ``^IMAGE``
pointer, a nested ``OBJECT = IMAGE`` and ``SPICE_FILE_NAME``.

Quirks handled here (and only here):

* **Byte order.** Labels declare ``SAMPLE_TYPE = IEEE_REAL`` (PDS3 for big-endian IEEE float) but the
  data are little-endian float32. pdr special-cases this when ``DATA_SET_ID = "JNO-J-JIRAM-3-RDR-V1.0"``
  and ``PRODUCT_TYPE = RDR`` (``pdr.formats.juno.jiram_rdr_sample_type``); the writer reproduces exactly
  that label shape, and the reader re-interprets the bytes as little-endian should pdr ever not apply it.
* **Unit.** See :func:`jiram_pixel_unit`: values are *band* radiance, W/(m² sr), per the JIRAM SIS
  (issue 7.5, §4.2), whatever the label's ``UNIT`` says (older products say ``W/(m^2*sr*micron)``).
* **INSTRUMENT_ID** is ``"JIR"`` in real labels (``"JIRAM"`` is accepted too).
* **Geometry.** Label latitudes are planetocentric (``COORDINATE_SYSTEM_NAME = "PLANETOCENTRIC"``) and
  longitudes EAST; :class:`~ioscan.records.LabelGeometry` wants planetographic °N and west °W, so both are
  converted (``ioscan.body``). Band-group geometry is ``"N/A"`` for most products (orbits ≥ 39, most I1
  frames), so SPICE geometry is the normal case.
* **Target.** Most JIRAM frames look at Jupiter. :func:`label_target` reads ``TARGET_NAME``,
  ``TARGET_PIXELS`` and ``JNO:TARGET_PRESENCE_FLAG`` and says whether the label puts Io in view (and in
  which band); ``Frame.metadata["target"]`` holds the result. The flag's layout is not in the documents at
  hand: its 15 digits are read as three groups of five (spectrometer, L image, M image), the first of each
  saying whether the *labelled* target is in that channel — as one public JIRAM user script reads it, and as
  the real orbit-4 Jupiter I2 label (``"000000000010000"``: digit 10, the M image) agrees. The other digits
  are not interpreted.
  A label whose target is not Io says nothing about Io; kernels decide then (``workflows/process``).
* **Validation.** :func:`validate_label` checks fields against each other instead of trusting them (the real
  label's ``SC_SUN_POSITION_VECTOR`` repeats ``SC_TARGET_POSITION_VECTOR``: 182,585 km long where
  ``SPACECRAFT_SOLAR_DISTANCE`` says 816 million); what fails is listed in
  ``Frame.metadata["label_warnings"]`` and left out of ``metadata["label_vectors_km"]``.
  :func:`onboard_background_subtraction` reads the ``HISTORY`` note: with on-board background subtraction
  the product's zero is not the sky's and its noise includes the subtracted background's shot noise
  (``metadata["onboard_background_subtraction"]``; detection then measures signal levels from the darkest
  background, not from zero).
* **ioscan additions.** Real labels carry no saturation level, disk-centre pixel or north-pole position
  angle. The writer puts these in a clearly non-archive ``GROUP = IOSCAN_PARAMETERS``
  (``SATURATION_LEVEL`` in W/(m² sr); ``NORTH_POLE_POSITION_ANGLE`` in degrees, LabelGeometry convention;
  ``DISK_CENTER_SAMPLE`` / ``DISK_CENTER_LINE`` 0-based pixels; ``DISK_CENTER_PIXEL_SCALE`` in km/pixel).
  The reader builds a LabelGeometry only when that group and the archive geometry keywords are all
  present; what a real label does give is kept in ``Frame.metadata["label_geometry_partial"]``.

What a real label's geometry is worth (:func:`archive_geometry`, kept in
``Frame.metadata["archive_geometry"]`` with a status per item; checked on
``JIR_IMG_RDR_2017033T114006_V02.LBL``, orbit 4):

* **Reliable** (checked against each other): ``QUATERNION`` is a SPICE quaternion (w, x, y, z) of the
  J2000 → instrument C-matrix at mid-exposure — its third row gives ``RIGHT_ASCENSION``/``DECLINATION``
  and celestial north lies ``TWIST_ANGLE`` from its +Y toward +X (``CELESTIAL_NORTH_CLOCK_ANGLE`` =
  180° − that, from −Y); ``SC_TARGET_POSITION_VECTOR`` is the **spacecraft relative to the target's
  centre** in the target's body-fixed frame (its planetocentric latitude, east longitude and length are
  ``SUB_SPACECRAFT_LATITUDE``, ``SUB_SPACECRAFT_LONGITUDE``, ``TARGET_CENTER_DISTANCE``); the kernel list
  (``SPICE_FILE_NAME``).
* **Not reliable**: which JIRAM frame the quaternion belongs to is not said (JUNO_JIRAM_I, or a band frame
  0.94° = 69 px away along track); ``SC_SUN_POSITION_VECTOR``/``VELOCITY`` repeat the target's values;
  band groups name the axes transposed — ``SAMPLE_FIRST_PIXEL`` holds the band's first *detector line*
  (M: 139) and the meaning of ``LINE_FIRST_PIXEL`` is unknown, so pixel keywords are checked against the
  instrument's detector layout, never used as sample/line; ``NORTH_AZIMUTH`` (= ``SUB_SPACECRAFT_AZIMUTH``)
  follows the label's transposed convention and says nothing about the sample sign; the band groups' pixel
  scale differs from ``SLANT_DISTANCE`` × IFOV by 0.7 %.
* **Pointing**: quaternion and band-group geometry (centre, incidence, emission, phase, slant distance) come
  from the kernels listed, whose spacecraft CK is the *reconstructed* one (``juno_sc_rec_*.bc``): they carry
  JIRAM's reconstructed-pointing error (up to ~2° along track). The archive geometry says so and gives the
  instrument's pointing prior with it (``pointing``), and the position error it means at the band centre.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ioscan import body as iobody
from ioscan.errors import ProductError
from ioscan.formats._common import (
    add_seconds,
    file_checksum_sha256,
    iso_utc,
    mid_time,
    parse_utc,
    pds3_quote,
    pds3_real,
)
from ioscan.formats.pvl import chunk_statements, literalize, read_pvl
from ioscan.instruments import jiram
from ioscan.records import BAND_RADIANCE_UNIT, BandImage, Frame, LabelGeometry

PRODUCT_TYPE = "RDR"
INSTRUMENT_IDS = ("JIR", "JIRAM")
LABEL_UNIT = "W/(m^2*sr)"
IOSCAN_GROUP = "IOSCAN_PARAMETERS"
#: label UNIT strings known to mean JIRAM calibrated imager values (compared lower-case, no spaces)
_KNOWN_LABEL_UNITS = {
    "w/(m^2*sr)",
    "w/(m^2*sr*micron)",
    "w/(m^2*sr*um)",
    "w/m^2/sr",
    "w/m^2/sr/micron",
    "w/m^2/sr/um",
    "w/(m**2*sr)",
    "w/(m**2*sr*micron)",
}
_MODE_LINES = {"I1": (256, 266), "I2": (128,), "I3": (128,)}
#: largest disagreement (deg) between the quaternion and the label's RA/Dec/twist for it to count as checked
QUATERNION_TOLERANCE_DEG = 0.01
#: largest disagreement (deg) between SC_TARGET_POSITION_VECTOR and the sub-spacecraft point (the label's
#: values differ by Jupiter's rotation over the light time, 0.004° in the orbit-4 label)
POSITION_TOLERANCE_DEG = 0.02
_MODE_DESC = {
    "I1": "IMAGE(256x432) L-Band and M-Band",
    "I2": "IMAGE(128x432) M-Band",
    "I3": "IMAGE(128x432) L-Band",
}
_BAND_GEOMETRY_KEYS = (
    "INCIDENCE_ANGLE",
    "EMISSION_ANGLE",
    "PHASE_ANGLE",
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
)


def jiram_pixel_unit(label_unit: str | None, *, where: Path | str = "") -> str:
    """The one place that decides the unit of JIRAM imager pixel values.

    The JIRAM SIS (issue 7.5, §4.2) says calibrated imager values are band radiance in W/(m² sr),
    integrated over the filter, "not spectral radiance". Older product versions (e.g. PDS_RDR_v9, 2017)
    label the same values ``W/(m^2*sr*micron)``: the SIS is trusted, so every known radiance spelling maps
    to :data:`ioscan.records.BAND_RADIANCE_UNIT`. A missing unit is taken as band radiance too; any other
    unit (e.g. DN) raises ProductError.
    """
    if label_unit is None or str(label_unit).strip() in ("", "N/A", "UNK"):
        return BAND_RADIANCE_UNIT
    key = re.sub(r"\s+", "", str(label_unit)).lower()
    if key in _KNOWN_LABEL_UNITS:
        return BAND_RADIANCE_UNIT
    raise ProductError(f"{Path(where).name}: UNIT {label_unit!r} is not a JIRAM calibrated radiance unit")


# ----------------------------------------------------------------------------------------------- writer


def _value(v) -> str:
    """Python value → PDS3 literal (str quoted, float exact, list → sequence)."""
    if isinstance(v, bool):
        return pds3_quote("TRUE" if v else "FALSE")
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return pds3_real(float(v))
    if isinstance(v, list | tuple):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    return pds3_quote(str(v))


def _label_time(t) -> str:
    """Millisecond precision as in archive labels, microseconds when the time has them (simulated truth)."""
    return t.isoformat(timespec="milliseconds" if t.microsecond % 1000 == 0 else "microseconds")


def _real_or_na(x: float | None, unit: str) -> str:
    return '"N/A"' if x is None else f"{pds3_real(x)} <{unit}>"


def write_jiram_rdr(
    out_dir: Path,
    *,
    product_id: str,
    mode: str,
    image: np.ndarray,
    start_time_utc: str,
    stop_time_utc: str,
    sclk_start: str,
    orbit: int,
    exposure_s: float,
    saturation_w_m2_sr: float | None = None,
    label_geometry: LabelGeometry | None = None,
    sub_solar_lon_e_deg: float | None = None,
    spice_file_names: list[str] | None = None,
    extra: dict | None = None,
) -> Path:
    """Write ``<product_id>.IMG`` (little-endian float32, no header) and ``<product_id>.LBL``.

    Args:
        out_dir: directory to write into (created if missing).
        product_id: e.g. ``JIR_IMG_RDR_2022063T083455_V01``.
        mode: ``"I1"``, ``"I2"``, ``"I3"`` (written as ``SCI_<mode>_S1``) or a full mode ID
            such as ``"SCI_I1_S3"``.
        image: float32 band radiance W/(m² sr), lines × 432: I1 256 lines (L rows 0–127, M rows 128–255),
            I2 (M) and I3 (L) 128 lines. NaN is allowed and written as is.
        start_time_utc, stop_time_utc: exposure start/stop, ISO 8601 UTC.
        sclk_start: spacecraft clock string, e.g. ``"1/539307798:00786"``.
        orbit: perijove number.
        exposure_s: integration time, s (``EXPOSURE_DURATION``).
        saturation_w_m2_sr: saturation level, written to the ``IOSCAN_PARAMETERS`` group.
        label_geometry: disk geometry (planetographic °N, west °W); written as planetocentric / EAST like
            real labels, plus the ioscan group keywords; absent → geometry keywords ``"N/A"``.
        sub_solar_lon_e_deg: ``SUB_SOLAR_LONGITUDE`` (°E) when no ``label_geometry`` is given.
        spice_file_names: kernels named in ``SPICE_FILE_NAME``.
        extra: top-level keywords to add, or to replace when the name already exists (str values quoted;
            INSTRUMENT_MODE_ID and the FILE/IMAGE object keywords cannot be changed this way).

    Returns:
        Path of the ``.LBL`` file.
    """
    out_dir = Path(out_dir)
    mode_id = mode if mode.upper().startswith("SCI_") else f"SCI_{mode.upper()}_S1"
    band_mode = jiram.mode_from_label(mode_id)
    img = np.asarray(image)
    if img.dtype != np.float32:
        raise ValueError(f"image must be float32, got {img.dtype}")
    if img.ndim != 2 or img.shape[1] != jiram.N_SAMPLES or img.shape[0] not in _MODE_LINES[band_mode]:
        raise ValueError(
            f"mode {band_mode} needs {_MODE_LINES[band_mode][0]}×{jiram.N_SAMPLES}, got {img.shape}"
        )
    start = parse_utc(start_time_utc, where=product_id, what="start_time_utc")
    stop = parse_utc(stop_time_utc, where=product_id, what="stop_time_utc")
    if stop < start:
        raise ValueError(f"stop time {stop_time_utc} before start time {start_time_utc}")
    if label_geometry is not None and sub_solar_lon_e_deg is not None:
        implied = float(iobody.lon_w_to_lon_e(label_geometry.sub_solar_lon_w_deg))
        if abs((implied - sub_solar_lon_e_deg + 180.0) % 360.0 - 180.0) > 1e-9:
            raise ValueError("sub_solar_lon_e_deg disagrees with label_geometry.sub_solar_lon_w_deg")
    lines, samples = img.shape
    img_name = f"{product_id}.IMG"

    top: dict[str, str] = {
        "PDS_VERSION_ID": "PDS3",
        "DATA_SET_NAME": pds3_quote("JUNO JUPITER JIRAM REDUCED DATA RECORD V1.0"),
        "DATA_SET_ID": pds3_quote(jiram.DATA_SET_ID),
        "PRODUCT_ID": product_id if re.fullmatch(r"[A-Za-z0-9_]+", product_id) else pds3_quote(product_id),
        "PRODUCT_TYPE": PRODUCT_TYPE,
        "PROCESSING_LEVEL_ID": '"3"',
        "START_TIME": _label_time(start),
        "STOP_TIME": _label_time(stop),
        "SPACECRAFT_CLOCK_START_COUNT": pds3_quote(sclk_start),
        "STANDARD_DATA_PRODUCT_ID": '"IMAGE"',
        "PRODUCER_FULL_NAME": '"IOSCAN SIMULATOR"',
        "PRODUCT_VERSION_ID": pds3_quote(product_id.rsplit("_V", 1)[-1] if "_V" in product_id else "01"),
        "INSTRUMENT_HOST_NAME": '"JUNO"',
        "INSTRUMENT_HOST_ID": '"JNO"',
        "MISSION_PHASE_NAME": '"SCIENCE ORBITS"',
        "INSTRUMENT_NAME": '"JOVIAN INFRARED AURORAL MAPPER"',
        "INSTRUMENT_ID": '"JIR"',
        "INSTRUMENT_TYPE": '"INFRARED IMAGING SPECTROMETER"',
        "EXPOSURE_DURATION": f"{pds3_real(exposure_s)} <s>",
        "ORBIT_NUMBER": str(int(orbit)),
        "TARGET_NAME": '"IO"',
        "TARGET_TYPE": '"SATELLITE"',
        "COORDINATE_SYSTEM_NAME": '"PLANETOCENTRIC"',
        "COORDINATE_SYSTEM_CENTER_NAME": '"IO"',
    }
    g = label_geometry
    if g is not None:
        sc_lat_pc = float(iobody.lat_pg_to_lat_pc_deg(g.sub_observer_lat_deg, g.sub_observer_lon_w_deg))
        sun_lat_pc = float(iobody.lat_pg_to_lat_pc_deg(g.sub_solar_lat_deg, g.sub_solar_lon_w_deg))
        top["SUB_SPACECRAFT_LATITUDE"] = _real_or_na(sc_lat_pc, "degree")
        top["SUB_SPACECRAFT_LONGITUDE"] = _real_or_na(
            float(iobody.lon_w_to_lon_e(g.sub_observer_lon_w_deg)), "degree"
        )
        top["TARGET_CENTER_DISTANCE"] = _real_or_na(g.range_km, "km")
        top["SUB_SOLAR_LATITUDE"] = _real_or_na(sun_lat_pc, "degree")
        sun_lon_e = float(iobody.lon_w_to_lon_e(g.sub_solar_lon_w_deg))
        top["SUB_SOLAR_LONGITUDE"] = _real_or_na(sun_lon_e, "degree")
    else:
        for key in (
            "SUB_SPACECRAFT_LATITUDE",
            "SUB_SPACECRAFT_LONGITUDE",
            "TARGET_CENTER_DISTANCE",
            "SUB_SOLAR_LATITUDE",
        ):
            top[key] = '"N/A"'
        top["SUB_SOLAR_LONGITUDE"] = _real_or_na(sub_solar_lon_e_deg, "degree")
    for key, val in (extra or {}).items():
        top[str(key).upper()] = _value(val)

    out: list[str] = [f"{k:<31}= {v}" for k, v in top.items() if k not in ("INSTRUMENT_MODE_ID",)]
    for band in ("L", "M"):
        out.append(f"GROUP = {band}_BAND_PARAMETERS")
        out += [f'   {k:<23}= "N/A"' for k in _BAND_GEOMETRY_KEYS]
        out.append(f"END_GROUP = {band}_BAND_PARAMETERS")
    out += [
        f'{"CHANNEL_ID":<31}= "1"  /* 0:SPECTRUM IR; 1:IMAGE */',
        f"{'INSTRUMENT_MODE_ID':<31}= {mode_id}",
        f'{"INSTRUMENT_MODE_DESC":<31}= "{mode_id}: Science, {_MODE_DESC[band_mode]}"',
        f"GROUP = {IOSCAN_GROUP}",
        "   /* not an archive keyword group: written by ioscan (simulated product) */",
        f"   {'SATURATION_LEVEL':<25}= {_real_or_na(saturation_w_m2_sr, 'W/(m^2*sr)')}",
    ]
    if g is not None:
        out += [
            f"   {'NORTH_POLE_POSITION_ANGLE':<25}= {pds3_real(g.north_pa_deg)} <degree>",
            f"   {'DISK_CENTER_SAMPLE':<25}= {pds3_real(g.disk_center_sample)}",
            f"   {'DISK_CENTER_LINE':<25}= {pds3_real(g.disk_center_line)}",
            f"   {'DISK_CENTER_PIXEL_SCALE':<25}= {pds3_real(g.pixel_scale_km)} <km>",
        ]
    out += [
        f"END_GROUP = {IOSCAN_GROUP}",
        "OBJECT                         = FILE",
        "   RECORD_TYPE                 = FIXED_LENGTH",
        f"   FILE_RECORDS                = {lines}",
        f"   RECORD_BYTES                = {samples * 4}",
        '   FRAME_TYPE                  = "SCIENCE"',
        '   DATA_QUALITY_ID             = "1"',
        f"   UNIT                        = {pds3_quote(LABEL_UNIT)}",
        f"^IMAGE                         = {pds3_quote(img_name)}",
        "OBJECT                         = IMAGE",
        f"   LINES                      = {lines}",
        f"   LINE_SAMPLES               = {samples}",
        "   SAMPLE_TYPE                = IEEE_REAL  /* as in the archive: data are really LSB */",
        "   SAMPLE_BITS                = 32",
        f"   UNIT                       = {pds3_quote(LABEL_UNIT)}",
        "END_OBJECT                     = IMAGE",
    ]
    names = spice_file_names or []
    if names:
        out.append("SPICE_FILE_NAME                =")
        out.append("{" + ",\r\n".join(pds3_quote(n) for n in names) + "}")
    else:
        out.append('SPICE_FILE_NAME                = "N/A"')
    out += ["END_OBJECT                     = FILE", "END"]

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / img_name).write_bytes(img.astype("<f4", copy=False).tobytes(order="C"))
    lbl = out_dir / f"{product_id}.LBL"
    lbl.write_bytes(("\r\n".join(out) + "\r\n").encode("ascii"))
    return lbl


# ------------------------------------------------------------------------------- target and label checks

#: digit of ``JNO:TARGET_PRESENCE_FLAG`` read as "the labelled target is in this channel" (see the module
#: docstring: an inference from one public user script and one real label, not an SIS definition)
PRESENCE_DIGITS = {"spectrometer": 0, "L": 5, "M": 10}
PRESENCE_FLAG_LENGTH = 15


def _vector_km(v) -> np.ndarray | None:
    """A PDS3 3-vector (values with or without units) as floats, or None."""
    if not isinstance(v, list | tuple) or len(v) != 3:
        return None
    out = [_num(x) for x in v]
    return None if any(x is None for x in out) else np.array(out, float)


def label_target(meta, bands: list[str]) -> dict:
    """What the label says about the target, and whether it puts Io in view.

    Returns a JSON-ready dict: ``name``, ``type``, ``pixels`` (``TARGET_PIXELS``), ``presence_flag``,
    ``present`` (band/channel → the labelled target in it: True, False or None when the flag is missing or
    malformed), ``io_in_view`` (True, False, or None when the label cannot tell), ``io_bands`` (bands to
    search for Io) and ``reason`` (one line).

    Io is in view when the target is Io and neither ``TARGET_PIXELS`` = 0 nor the presence flag (all of the
    frame's bands 0) says it is absent; a target other than Io says nothing about Io (None: kernels may
    still put it in the field of view); a label without ``TARGET_NAME`` cannot tell (None).
    """
    name = _str(meta.metaget_("TARGET_NAME")).upper()
    pixels_raw = _num(meta.metaget_("TARGET_PIXELS"))
    pixels = None if pixels_raw is None else int(pixels_raw)
    flag = _str(meta.metaget_("JNO:TARGET_PRESENCE_FLAG"))
    flag_ok = len(flag) == PRESENCE_FLAG_LENGTH and set(flag) <= {"0", "1"}
    present = {ch: (flag[k] == "1" if flag_ok else None) for ch, k in PRESENCE_DIGITS.items()}
    out = {
        "name": name or None,
        "type": _str(meta.metaget_("TARGET_TYPE")).upper() or None,
        "pixels": pixels,
        "presence_flag": flag or None,
        "present": present,
    }
    if not name:
        return out | {"io_in_view": None, "io_bands": list(bands), "reason": "no TARGET_NAME in the label"}
    if name != "IO":
        return out | {"io_in_view": None, "io_bands": [], "reason": f"label target {name}, not Io"}
    if pixels == 0:
        return out | {"io_in_view": False, "io_bands": [], "reason": "label: TARGET_PIXELS = 0"}
    io_bands = [b for b in bands if present.get(b) is not False]
    if not io_bands:
        reason = f"label: JNO:TARGET_PRESENCE_FLAG {flag} has Io in none of the bands {'/'.join(bands)}"
        return out | {"io_in_view": False, "io_bands": [], "reason": reason}
    return out | {"io_in_view": True, "io_bands": io_bands, "reason": "label target IO"}


def onboard_background_subtraction(meta) -> bool | None:
    """Whether the ``HISTORY`` note says the background was subtracted on board (None: it does not say)."""
    hist = meta.metablock_("HISTORY") or {}
    note = re.sub(r"\s+", " ", _str(hist.get("NOTE"))).upper()
    if "BACKGROUND" not in note:
        return None
    if "ENABLED" in note:
        return True
    if "DISABLED" in note:
        return False
    return None


def validate_label(meta, n_pixels: int) -> tuple[list[str], dict]:
    """Label fields checked against each other: (warnings, the vectors that passed, km).

    Checks: ``SC_SUN_POSITION_VECTOR`` differs from ``SC_TARGET_POSITION_VECTOR`` and its length agrees with
    ``SPACECRAFT_SOLAR_DISTANCE`` (1 %); the target vector's length agrees with ``TARGET_CENTER_DISTANCE``
    (1 %); ``SPACECRAFT_ALTITUDE`` < ``TARGET_CENTER_DISTANCE``; 0 ≤ ``TARGET_PIXELS`` ≤ the image's pixels;
    ``JNO:TARGET_PRESENCE_FLAG`` is 15 binary digits. A vector that fails is not returned.
    """
    warnings_: list[str] = []
    sun = _vector_km(meta.metaget_("SC_SUN_POSITION_VECTOR"))
    tgt = _vector_km(meta.metaget_("SC_TARGET_POSITION_VECTOR"))
    sun_dist = _num(meta.metaget_("SPACECRAFT_SOLAR_DISTANCE"))
    tgt_dist = _num(meta.metaget_("TARGET_CENTER_DISTANCE"))
    alt = _num(meta.metaget_("SPACECRAFT_ALTITUDE"))
    good: dict = {}
    if sun is not None:
        if tgt is not None and np.allclose(sun, tgt, rtol=1e-9, atol=1e-6):
            warnings_.append("SC_SUN_POSITION_VECTOR repeats SC_TARGET_POSITION_VECTOR: ignored")
        elif sun_dist is not None and abs(np.linalg.norm(sun) / sun_dist - 1.0) > 0.01:
            warnings_.append(
                f"SC_SUN_POSITION_VECTOR is {np.linalg.norm(sun):.6g} km long, SPACECRAFT_SOLAR_DISTANCE "
                f"{sun_dist:.6g} km: ignored"
            )
        else:
            good["sc_sun"] = sun.tolist()
    if tgt is not None:
        if tgt_dist is not None and abs(np.linalg.norm(tgt) / tgt_dist - 1.0) > 0.01:
            warnings_.append(
                f"SC_TARGET_POSITION_VECTOR is {np.linalg.norm(tgt):.6g} km long, TARGET_CENTER_DISTANCE "
                f"{tgt_dist:.6g} km: ignored"
            )
        else:
            good["sc_target"] = tgt.tolist()
    if alt is not None and tgt_dist is not None and not alt < tgt_dist:
        warnings_.append(
            f"SPACECRAFT_ALTITUDE {alt:.6g} km is not below TARGET_CENTER_DISTANCE {tgt_dist:.6g} km"
        )
    pixels = _num(meta.metaget_("TARGET_PIXELS"))
    if pixels is not None and not 0 <= pixels <= n_pixels:
        warnings_.append(f"TARGET_PIXELS {pixels:g} outside 0–{n_pixels} (the image's pixels)")
    flag = meta.metaget_("JNO:TARGET_PRESENCE_FLAG")
    if flag is not None:
        f = _str(flag)
        if not (len(f) == PRESENCE_FLAG_LENGTH and set(f) <= {"0", "1"}):
            warnings_.append(
                f"JNO:TARGET_PRESENCE_FLAG {f!r} is not {PRESENCE_FLAG_LENGTH} binary digits: not used"
            )
    return warnings_, good


# ----------------------------------------------------------------------------------------------- reader


def _num(v) -> float | None:
    """A label value → float, or None for "N/A"/missing/non-numeric (units already stripped by pdr)."""
    if isinstance(v, tuple | list) and v and not isinstance(v[0], str | int | float):
        v = v[0]
    if isinstance(v, dict):
        v = v.get("value")
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def _str(v) -> str:
    return "" if v is None else str(v).strip().strip('"').strip()


def _find_data_file(label_path: Path, name: str) -> Path:
    """The file an ``^IMAGE`` pointer names, next to the label (case-insensitive, as archives vary)."""
    cand = label_path.parent / name
    if cand.is_file():
        return cand
    lower = name.lower()
    for p in label_path.parent.iterdir():
        if p.name.lower() == lower and p.is_file():
            return p
    raise ProductError(f"{label_path.name}: data file {name} named by ^IMAGE is missing")


def _label_geometry(meta, name: str) -> tuple[LabelGeometry | None, dict]:
    """LabelGeometry (planetographic, west) from the label when complete, plus what the label gives."""
    sc_lat = _num(meta.metaget_("SUB_SPACECRAFT_LATITUDE"))
    sc_lon_e = _num(meta.metaget_("SUB_SPACECRAFT_LONGITUDE"))
    sun_lat = _num(meta.metaget_("SUB_SOLAR_LATITUDE"))
    sun_lon_e = _num(meta.metaget_("SUB_SOLAR_LONGITUDE"))
    rng = _num(meta.metaget_("TARGET_CENTER_DISTANCE"))
    target = _str(meta.metaget_("TARGET_NAME")).upper()
    centric = _str(meta.metaget_("COORDINATE_SYSTEM_NAME", "PLANETOCENTRIC")).upper() != "PLANETOGRAPHIC"
    partial: dict = {}

    def to_pg(lat, lon_w):
        if lat is None or lon_w is None:
            return lat
        return float(iobody.lat_pc_to_lat_pg_deg(lat, lon_w)) if centric and target == "IO" else lat

    sc_lon_w = None if sc_lon_e is None else float(iobody.lon_e_to_lon_w(sc_lon_e))
    sun_lon_w = None if sun_lon_e is None else float(iobody.lon_e_to_lon_w(sun_lon_e))
    for key, val in (
        ("sub_observer_lat_deg", to_pg(sc_lat, sc_lon_w)),
        ("sub_observer_lon_w_deg", sc_lon_w),
        ("sub_solar_lat_deg", to_pg(sun_lat, sun_lon_w)),
        ("sub_solar_lon_w_deg", sun_lon_w),
        ("range_km", rng),
    ):
        if val is not None:
            partial[key] = val
    grp = meta.metablock_(IOSCAN_GROUP) or {}
    extra = {
        k: _num(grp.get(key))
        for k, key in (
            ("north_pa_deg", "NORTH_POLE_POSITION_ANGLE"),
            ("disk_center_sample", "DISK_CENTER_SAMPLE"),
            ("disk_center_line", "DISK_CENTER_LINE"),
            ("pixel_scale_km", "DISK_CENTER_PIXEL_SCALE"),
        )
    }
    if target != "IO" or len(partial) < 5 or any(v is None for v in extra.values()):
        return None, (partial if target == "IO" else {})
    return LabelGeometry(**partial, **extra), partial


def _version_fields(meta, label_path: Path, product_id: str) -> tuple[str, str | None, str | None]:
    """(base product ID, PRODUCT_VERSION_ID, PRODUCT_CREATION_TIME as ISO UTC) of a label."""
    from ioscan.formats.versions import split_version

    base, version = split_version(product_id, _str(meta.metaget_("PRODUCT_VERSION_ID")) or None)
    created_txt = _str(meta.metaget_("PRODUCT_CREATION_TIME"))
    created = None
    if created_txt and created_txt.upper() not in ("N/A", "UNK", "NULL"):
        try:
            created = iso_utc(parse_utc(created_txt, where=label_path, what="PRODUCT_CREATION_TIME"))
        except ProductError:
            created = None  # only a tie-breaker between two copies of one version: never fatal
    return base, version, created


def _data_pointer(meta, name: str) -> str:
    pointer = meta.metaget_("^IMAGE")
    if isinstance(pointer, list | tuple):  # ("FILE.IMG", record) form
        pointer = pointer[0]
    if not isinstance(pointer, str) or not pointer:
        raise ProductError(f"{name}: ^IMAGE pointer does not name a detached data file ({pointer!r})")
    return _str(pointer)


#: the label keywords a JIRAM product's identity reads (:func:`read_jiram_identity`)
IDENTITY_KEYWORDS = ("PRODUCT_ID", "PRODUCT_VERSION_ID", "PRODUCT_CREATION_TIME", "^IMAGE")


def read_jiram_identity(label_path: Path, *, quick: bool = True):
    """The :class:`~ioscan.formats.versions.ProductIdentity` of a JIRAM RDR from its label (PRODUCT_ID,
    PRODUCT_VERSION_ID, PRODUCT_CREATION_TIME) and the checksum of the IMG its ``^IMAGE`` names; the pixels
    are not decoded. ``quick``: only those keywords' values are made (:func:`label_keywords`, ~0.3 ms
    instead of pdr's whole label, ~1.4 ms: a scan identifies every product in its calling process), the
    whole label parsed by pdr when that cannot tell. Raises ProductError."""
    label_path = Path(label_path)
    if not label_path.is_file():
        raise ProductError(f"{label_path}: label file not found")
    values = None
    if quick:
        with contextlib.suppress(Exception):  # anything unusual: pdr's whole parse decides, as before
            values = label_keywords(label_path, IDENTITY_KEYWORDS)
    meta = _Keywords(values) if values is not None else _parsed_identity_label(label_path)
    return _identity(label_path, meta)


class _Keywords:
    """Keyword values found by :func:`label_keywords`, read as pdr's ``metaget_`` reads a label."""

    def __init__(self, values: dict):
        self.values = values

    def metaget_(self, key: str, default=None):
        return self.values.get(key, default)


def _parsed_identity_label(label_path: Path):
    """The whole label's values as pdr parses them (:class:`PdsLabel`; kept for the read that usually
    follows in this process)."""
    name = label_path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = PdsLabel.read(label_path)
    except Exception as exc:  # pdr raises many kinds on garbage labels
        raise ProductError(f"{name}: unparseable PDS3 label ({type(exc).__name__}: {exc})") from exc
    _remember_label(label_path, meta)
    return meta


def _identity(label_path: Path, meta):
    from ioscan.formats.versions import ProductIdentity

    product_id = _str(meta.metaget_("PRODUCT_ID")) or label_path.stem
    base, version, created = _version_fields(meta, label_path, product_id)
    img_path = _find_data_file(label_path, _data_pointer(meta, label_path.name))
    checksum = file_checksum_sha256(img_path)
    _remember(_CHECKSUMS, img_path, checksum)
    return ProductIdentity(label_path, product_id, base, version, created, checksum)


def label_keywords(label_path: Path, keywords: tuple[str, ...]) -> dict[str, object] | None:
    """The values pdr gives ``keywords`` of a PDS3 label (those present), found as pdr finds them (its
    reading of the label's text, its splitting into statements, its making of values) without making the
    whole label's values, pdr's slowest step. None when one of them is there more than once (then pdr's
    rules say which counts: parse the label with pdr)."""
    from pdr.formats.checkers import check_special_label
    from pdr.parselabel.pds3 import looks_pvl
    from pdr.parselabel.utils import DEFAULT_PVL_LIMIT, trim_label
    from pdr.utils import decompress

    special, label = check_special_label(str(label_path))
    if special is False:
        with decompress(str(label_path)) as stream:
            label = trim_label(stream, DEFAULT_PVL_LIMIT, strict_decode=not looks_pvl(str(label_path)))
    uncommented = re.sub(r"/\*.*?(\r|\n|/\*)", "\n", label)  # as pdr.parselabel.pds3.parse_pvl
    lines = filter(None, (line.strip() for line in uncommented.split("\n")))
    found: dict[str, str] = {}
    for parameter, value in chunk_statements(lines):
        if parameter in keywords:
            if parameter in found:
                return None
            found[parameter] = value
    return {key: literalize(value) for key, value in found.items()}


class PdsLabel:
    """A PDS3 label's values as pdr parses them (``pdr.parselabel.pds3.read_pvl``, the parse ``pdr.read``
    makes of a detached label), looked up as pdr's ``Metadata.metaget_`` and ``metablock_`` look them up —
    the first value of a key, this level's before its blocks', a block's before the next one's, None as the
    default — from one index of the first values made once, instead of a search of the nested blocks per
    key; without ``pdr.read``'s set-up around the parse (its identifiers, pointers and data objects: ~0.4 ms
    of its ~1.4 ms on a JIRAM label), its values made by :func:`ioscan.formats.pvl.literalize` (pdr's,
    without ``literal_eval`` for the plain forms). ``tests/formats/test_formats_jiram_pds3.py`` compares
    every key's value and block with pdr's."""

    def __init__(self, mapping, params):
        self.mapping = mapping
        self.keys = frozenset(params)
        self.first = _first_values(mapping)

    @classmethod
    def read(cls, label_path: Path) -> PdsLabel:
        """Parse the label at ``label_path`` as ``pdr.read`` does (its absolute path, pdr's size limit)."""
        from pdr.parselabel.utils import DEFAULT_PVL_LIMIT

        return cls(*read_pvl(str(Path(label_path).absolute()), max_size=DEFAULT_PVL_LIMIT))

    def metaget_(self, key: str, default=None):
        """pdr's ``metaget_``: the first value of ``key``, ``default`` when absent or None."""
        if key not in self.keys:
            return default
        value = self.first.get(key)
        return default if value is None else value

    def metablock_(self, key: str):
        """pdr's ``metablock_``: the first value of ``key`` when it is a block, the whole label when it is
        not, None when ``key`` is absent."""
        if key not in self.keys:
            return None
        value = self.first.get(key)
        return value if isinstance(value, Mapping) else self.mapping


def _first_values(mapping) -> dict:
    """Each key's first value in pdr's search order (``dustgoggles.structures.dig_for``): this level's first
    item of the key, else the first of the nested blocks (in order) that holds it."""
    from multidict import MultiDict

    first: dict = {}
    nests = []
    for key, value in mapping.items():
        if key not in first:
            first[key] = value
        if isinstance(value, dict | MultiDict):
            nests.append(value)
    for nest in nests:
        for key, value in _first_values(nest).items():
            first.setdefault(key, value)
    return first


class _PdrData:
    """``pdr.read`` of a label made when an object is first asked for (the IMAGE of a product that is
    not plain: :func:`_image_pixels`)."""

    def __init__(self, label_path: Path):
        self.label_path = label_path

    def __getitem__(self, key: str):
        import pdr

        return pdr.read(str(self.label_path))[key]


#: what :func:`read_jiram_identity` made, kept for the :func:`read_jiram_rdr` that usually follows in the
#: same process (a scan identifies a product, then reads it), each taken out when used: (path, mtime ns,
#: size) → the label's PdsLabel (``quick`` False) and the IMG's SHA-256
_PARSED: dict[tuple[str, int, int], PdsLabel] = {}
_CHECKSUMS: dict[tuple[str, int, int], str] = {}
_KEPT_MAX = 2


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def _remember(kept: dict, path: Path, value) -> None:
    """Keep ``value`` for ``path`` as it is now (the oldest of :data:`_KEPT_MAX` dropped)."""
    key = _file_key(path)
    if key is None:
        return
    while len(kept) >= _KEPT_MAX:
        del kept[next(iter(kept))]
    kept[key] = value


def _remember_label(label_path: Path, meta: PdsLabel) -> None:
    _remember(_PARSED, label_path, meta)


def _parsed_label(label_path: Path) -> PdsLabel:
    """The values of a label: those :func:`read_jiram_identity` parsed if the label is unchanged since
    (taken out of the cache: used once), else a new parse."""
    key = _file_key(label_path)
    meta = _PARSED.pop(key, None) if key is not None else None
    return meta if meta is not None else PdsLabel.read(label_path)


def _data_checksum(img_path: Path) -> str:
    """The IMG's SHA-256: the one :func:`read_jiram_identity` made if the file is unchanged since (path,
    modification time and size; taken out: used once), else computed (~0.3 ms for an I1 frame)."""
    key = _file_key(img_path)
    checksum = _CHECKSUMS.pop(key, None) if key is not None else None
    return checksum if checksum is not None else file_checksum_sha256(img_path)


def quaternion_to_matrix(q_wxyz) -> np.ndarray:
    """The 3×3 rotation of a SPICE quaternion (w, x, y, z), as SPICE's ``q2m`` builds it (for a C-matrix
    quaternion: J2000 → instrument, rows = the instrument's axes in J2000)."""
    w, x, y, z = (float(v) for v in q_wxyz)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _with_unit(v, unit_km: bool = True) -> float | None:
    """A label quantity as a float; metres (``m``, ``m/pixel``) turned into km when ``unit_km``."""
    x = _num(v)
    if x is None:
        return None
    units = str(v.get("units", "")).strip().lower() if isinstance(v, dict) else ""
    if unit_km and units.split("/")[0] == "m":
        x /= 1000.0
    return x


def _vector(v) -> np.ndarray | None:
    if not isinstance(v, tuple | list) or len(v) != 3:
        return None
    xs = [_with_unit(c) for c in v]
    return None if any(x is None for x in xs) else np.array(xs, float)


def _angle_diff_deg(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _check(checks: list, item: str, status: str, note: str) -> None:
    checks.append({"item": item, "status": status, "note": note})


def _kernel_kind(name: str) -> str:
    low = name.lower()
    if low.endswith(".bc"):
        if "_rec_" in low or "rec" in low.split("_"):
            return "reconstructed CK"
        if "_pre_" in low or "pred" in low:
            return "predicted CK"
        return "CK"
    return {
        ".tf": "frames",
        ".ti": "instrument",
        ".tls": "leapseconds",
        ".tpc": "constants",
        ".tsc": "clock",
        ".bsp": "ephemeris",
    }.get(Path(low).suffix, "other")


def _quaternion_checks(meta, values: dict, checks: list) -> None:
    q = meta.metaget_("QUATERNION")
    if not isinstance(q, tuple | list) or len(q) != 4 or any(_num(x) is None for x in q):
        _check(checks, "QUATERNION", "absent", "no quaternion in the label")
        return
    c = quaternion_to_matrix([_num(x) for x in q])
    values["quaternion_wxyz"] = [float(_num(x)) for x in q]
    values["quaternion_frame"] = "not stated: JUNO_JIRAM_I or a band frame (0.94° apart along X)"
    bore = c[2]
    ra = float(np.degrees(np.arctan2(bore[1], bore[0])) % 360.0)
    dec = float(np.degrees(np.arcsin(np.clip(bore[2], -1.0, 1.0))))
    north = c @ np.array([0.0, 0.0, 1.0])
    twist = float(np.degrees(np.arctan2(north[0], north[1])))
    clock = float(np.degrees(np.arctan2(north[0], -north[1])) % 360.0)
    values.update(boresight_ra_deg=ra, boresight_dec_deg=dec, twist_deg=twist, north_clock_angle_deg=clock)
    ref = {
        k: _num(meta.metaget_(k))
        for k in ("RIGHT_ASCENSION", "DECLINATION", "TWIST_ANGLE", "CELESTIAL_NORTH_CLOCK_ANGLE")
    }
    diffs = {
        "RIGHT_ASCENSION": None
        if ref["RIGHT_ASCENSION"] is None
        else _angle_diff_deg(ra, ref["RIGHT_ASCENSION"]),
        "DECLINATION": None if ref["DECLINATION"] is None else abs(dec - ref["DECLINATION"]),
        "TWIST_ANGLE": None if ref["TWIST_ANGLE"] is None else _angle_diff_deg(twist, ref["TWIST_ANGLE"]),
        "CELESTIAL_NORTH_CLOCK_ANGLE": None
        if ref["CELESTIAL_NORTH_CLOCK_ANGLE"] is None
        else _angle_diff_deg(clock, ref["CELESTIAL_NORTH_CLOCK_ANGLE"]),
    }
    known = {k: d for k, d in diffs.items() if d is not None}
    if not known:
        _check(checks, "QUATERNION", "unchecked", "no RIGHT_ASCENSION/DECLINATION/TWIST_ANGLE to check it by")
    elif max(known.values()) <= QUATERNION_TOLERANCE_DEG:
        _check(
            checks,
            "QUATERNION",
            "checked",
            "J2000 → instrument C-matrix: its +Z gives "
            + "/".join(k for k in known if k in ("RIGHT_ASCENSION", "DECLINATION"))
            + f" and celestial north lies {twist:.3f}° from +Y toward +X (TWIST_ANGLE) to "
            f"{max(known.values()):.4f}°; which JIRAM frame it belongs to is not stated",
        )
    else:
        worst = max(known, key=known.get)
        _check(
            checks,
            "QUATERNION",
            "inconsistent",
            f"disagrees with {worst} by {known[worst]:.3f}° (as a J2000 → instrument C-matrix)",
        )


def _position_checks(meta, target: str, values: dict, checks: list) -> None:
    vec = _vector(meta.metaget_("SC_TARGET_POSITION_VECTOR"))
    lat = _num(meta.metaget_("SUB_SPACECRAFT_LATITUDE"))
    lon_e = _num(meta.metaget_("SUB_SPACECRAFT_LONGITUDE"))
    dist = _with_unit(meta.metaget_("TARGET_CENTER_DISTANCE"))
    if dist is not None:
        values["target_center_distance_km"] = dist
    if vec is None:
        return
    r = float(np.linalg.norm(vec))
    d_lat = None if lat is None else abs(float(np.degrees(np.arcsin(vec[2] / r))) - lat)
    d_lon = None if lon_e is None else _angle_diff_deg(float(np.degrees(np.arctan2(vec[1], vec[0]))), lon_e)
    d_r = None if dist is None else abs(r - dist)
    values["spacecraft_from_target_body_km"] = vec.tolist()
    if None in (d_lat, d_lon, d_r):
        _check(checks, "SC_TARGET_POSITION_VECTOR", "unchecked", "no sub-spacecraft point to check it by")
    elif max(d_lat, d_lon) <= POSITION_TOLERANCE_DEG and d_r <= 1.0:
        _check(
            checks,
            "SC_TARGET_POSITION_VECTOR",
            "checked",
            f"the spacecraft relative to {target}'s centre in {target}'s body-fixed frame: its latitude, "
            f"east longitude and length give SUB_SPACECRAFT_LATITUDE/LONGITUDE to {max(d_lat, d_lon):.4f}° "
            f"(about the target's rotation over the light time) and TARGET_CENTER_DISTANCE to {d_r:.3f} km",
        )
    else:
        _check(
            checks,
            "SC_TARGET_POSITION_VECTOR",
            "inconsistent",
            f"is {max(d_lat, d_lon):.3f}° / {d_r:.1f} km from the sub-spacecraft point and distance: "
            "meaning unknown, not used",
        )
    sun = _vector(meta.metaget_("SC_SUN_POSITION_VECTOR"))
    if sun is not None and np.allclose(sun, vec):
        _check(
            checks,
            "SC_SUN_POSITION_VECTOR",
            "unreliable",
            "repeats SC_TARGET_POSITION_VECTOR (the target's values, not the Sun's): ignored",
        )


def _band_group_checks(meta, mode: str, values: dict, checks: list) -> None:
    for bname in ("L", "M"):
        grp = meta.metablock_(f"{bname}_BAND_PARAMETERS") or {}
        entries = {k: _with_unit(grp.get(k)) for k in _BAND_GEOMETRY_KEYS}
        if all(v is None for v in entries.values()):
            continue
        band = jiram.BANDS[bname]
        out = {k.lower(): v for k, v in entries.items() if v is not None}
        first_s, first_l = entries["SAMPLE_FIRST_PIXEL"], entries["LINE_FIRST_PIXEL"]
        if first_s is not None and int(first_s) == band.first_detector_line:
            _check(
                checks,
                f"{bname}_BAND_PARAMETERS pixel keywords",
                "transposed",
                f"SAMPLE_FIRST_PIXEL = {int(first_s)} is the {bname} band's first detector line (along "
                "track, the IMAGE object's lines): the group's SAMPLE/LINE names are transposed; "
                f"LINE_FIRST_PIXEL = {'?' if first_l is None else int(first_l)} has no known meaning. "
                "Not used as pixels.",
            )
        elif first_l is not None and int(first_l) == band.first_detector_line:
            _check(
                checks,
                f"{bname}_BAND_PARAMETERS pixel keywords",
                "as named",
                f"LINE_FIRST_PIXEL = {int(first_l)} is the band's first detector line",
            )
        elif first_s is not None or first_l is not None:
            _check(
                checks,
                f"{bname}_BAND_PARAMETERS pixel keywords",
                "unknown",
                "neither pixel keyword is the band's first detector line: meaning unknown, not used",
            )
        slant, scale = entries["SLANT_DISTANCE"], entries["HORIZONTAL_PIXEL_SCALE"]
        if slant and scale:
            ratio = scale / (slant * jiram.IFOV_RAD)
            _check(
                checks,
                f"{bname}_BAND_PARAMETERS pixel scale",
                "checked" if abs(ratio - 1) < 1e-3 else "approximate",
                f"HORIZONTAL_PIXEL_SCALE = {scale:.4g} km/px is {100 * (ratio - 1):+.2f} % from "
                f"SLANT_DISTANCE × IFOV ({slant * jiram.IFOV_RAD:.4g} km/px)",
            )
        if entries["NORTH_AZIMUTH"] is not None:
            _check(
                checks,
                f"{bname}_BAND_PARAMETERS NORTH_AZIMUTH",
                "unreliable",
                "an azimuth in the label's own (transposed) image convention: not used for pixel orientation "
                "and silent on the sample sign",
            )
        values[f"{bname}_band"] = out
        if mode and bname not in jiram.MODES.get(mode, (bname,)):
            _check(checks, f"{bname}_BAND_PARAMETERS", "unexpected", f"mode {mode} has no {bname} band")


def archive_geometry(meta, mode: str | None = None) -> dict:
    """What a real JIRAM label says about geometry, checked item by item (see the module docstring).

    Returns a JSON-ready dict: ``target``, the values read (quaternion and what it implies, spacecraft
    position, band groups), ``kernels`` (name → kind), ``pointing`` (the error the label's geometry carries:
    its source and the instrument's pointing prior, 1σ and bound along (sample, line) px, and the position
    error that means at each band group's centre, km) and ``checks`` (item, status, note).
    """
    values: dict = {}
    checks: list = []
    target = _str(meta.metaget_("TARGET_NAME")).upper() or "?"
    _quaternion_checks(meta, values, checks)
    _position_checks(meta, target, values, checks)
    _band_group_checks(meta, mode or "", values, checks)
    spice = meta.metaget_("SPICE_FILE_NAME")
    names = sorted(_str(n) for n in spice) if isinstance(spice, set | list | tuple) else []
    kernels = {n: _kernel_kind(n) for n in names}
    ck = [n for n, k in kernels.items() if k.endswith("CK")]
    prior = (
        jiram.JIRAM.pointing_prior("label")
        if hasattr(jiram.JIRAM, "pointing_prior")
        else jiram.JIRAM.pointing
    )
    sigma = getattr(prior, "sigma_px", None)
    top = getattr(prior, "max_px", None)
    pointing = {
        "source": ", ".join(f"{n} ({kernels[n]})" for n in ck) or "unknown (no CK listed)",
        "sigma_px": None if sigma is None else [float(x) for x in sigma],
        "max_px": None if top is None else [float(x) for x in top],
        "along_track_axis": getattr(prior, "along_track_axis", None),
    }
    for bname in ("L", "M"):
        band = values.get(f"{bname}_band", {})
        scale = band.get("horizontal_pixel_scale")
        if scale and sigma is not None:
            pointing[f"{bname}_center_err_km"] = {
                "sigma": float(max(sigma)) * scale,
                "max": float(max(top)) * scale,
            }
    if ck:
        kind = ", ".join(sorted({kernels[n] for n in ck}))
        _check(
            checks,
            "pointing",
            "carries the pointing error",
            f"quaternion and band geometry come from the {kind} ({', '.join(ck)}): off by up to "
            f"{f'{max(top):.0f}' if top else '?'} px along track like any unregistered frame; "
            "register before use",
        )
    return {"target": target, **values, "kernels": kernels, "pointing": pointing, "checks": checks}


def _px(pair) -> str:
    return "?" if pair is None else "(" + ", ".join(f"{float(v):.0f}" for v in pair) + ")"


def describe_archive_geometry(frame: Frame) -> list[str]:
    """Plain lines saying what the label's geometry holds and how far to trust it (for ``ioscan info``)."""
    geo = frame.metadata.get("archive_geometry") or {}
    if not geo:
        return []
    lines = [f"archive geometry (target {geo.get('target', '?')}):"]
    if "boresight_ra_deg" in geo:
        lines.append(
            f"  quaternion: boresight RA {geo['boresight_ra_deg']:.4f}°, "
            f"Dec {geo['boresight_dec_deg']:.4f}°, twist {geo['twist_deg']:.4f}° ({geo['quaternion_frame']})"
        )
    pt = geo.get("pointing", {})
    if pt.get("source"):
        lines.append(
            f"  pointing from {pt['source']}; prior 1σ (sample, line) {_px(pt.get('sigma_px'))} px, "
            f"bound {_px(pt.get('max_px'))} px"
        )
    for c in geo.get("checks", []):
        lines.append(f"  {c['item']}: {c['status']} — {c['note']}")
    return lines


def _image_pixels(data, image_block, img_path: Path, offset: int, lines: int, samples: int, name: str):
    """The IMAGE's pixels, float32 (lines × samples). JIRAM's IMG holds little-endian float32 whatever the
    label declares (``SAMPLE_TYPE`` says MSB; pdr's JIRAM special case reads LSB): a plain image (no line
    prefix or suffix bytes, the size checked against the label before) is read straight from the file with
    numpy at the label's offset — pdr's values bit for bit (``tests/formats/test_formats_jiram_pds3.py``),
    without its loader's per-call set-up (~1.4 ms of a ~2.5-ms read); anything else through pdr."""
    try:
        plain = not any(int(image_block.get(k, 0) or 0) for k in ("LINE_PREFIX_BYTES", "LINE_SUFFIX_BYTES"))
    except (TypeError, ValueError):
        plain = False
    if plain:
        arr = np.fromfile(img_path, dtype="<f4", count=lines * samples, offset=offset)
        if arr.size == lines * samples:
            return arr.reshape(lines, samples)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(data["IMAGE"])
    except Exception as exc:
        raise ProductError(f"{name}: pdr could not read the IMAGE ({type(exc).__name__}: {exc})") from exc
    if arr.shape != (lines, samples):
        raise ProductError(f"{name}: IMAGE read as {arr.shape}, label says {(lines, samples)}")
    if arr.dtype.byteorder == ">":  # pdr's JIRAM special case did not apply: the bytes are LSB anyway
        arr = arr.view(arr.dtype.newbyteorder("<"))
    return arr.astype(np.float32, copy=False)


def read_jiram_rdr(label_path: Path) -> Frame:
    """Read a JIRAM imager RDR (``.LBL`` + ``.IMG``) into a :class:`~ioscan.records.Frame`.

    Bands: I1 → L (rows 0–127) and M (rows 128–255, ``line_offset`` 128); I2 → M; I3 → L; values are band
    radiance W/(m² sr) (see :func:`jiram_pixel_unit`). ``time_utc`` is mid-exposure (START/STOP midpoint);
    ``exposure_s`` is ``EXPOSURE_DURATION`` or STOP − START. Raises ProductError naming the file for any
    unreadable, inconsistent or non-imager product.
    """

    label_path = Path(label_path)
    name = label_path.name
    if not label_path.is_file():
        raise ProductError(f"{label_path}: label file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = _parsed_label(label_path)
            ident = {
                k: _str(meta.metaget_(k))
                for k in ("DATA_SET_ID", "INSTRUMENT_ID", "PRODUCT_TYPE", "PRODUCT_ID", "INSTRUMENT_MODE_ID")
            }
    except ProductError:
        raise
    except Exception as exc:  # pdr raises many kinds on garbage labels
        raise ProductError(f"{name}: unparseable PDS3 label ({type(exc).__name__}: {exc})") from exc
    if not ident["DATA_SET_ID"] and not ident["PRODUCT_ID"]:
        raise ProductError(f"{name}: unparseable PDS3 label (no DATA_SET_ID or PRODUCT_ID found)")
    if ident["DATA_SET_ID"] != jiram.DATA_SET_ID:
        raise ProductError(
            f"{name}: DATA_SET_ID {ident['DATA_SET_ID']!r} is not the JIRAM RDR data set "
            f"{jiram.DATA_SET_ID!r}"
        )
    if ident["INSTRUMENT_ID"].upper() not in INSTRUMENT_IDS:
        raise ProductError(f"{name}: INSTRUMENT_ID {ident['INSTRUMENT_ID']!r} is not JIRAM")
    if ident["PRODUCT_TYPE"].upper() != PRODUCT_TYPE:
        raise ProductError(f"{name}: PRODUCT_TYPE {ident['PRODUCT_TYPE']!r} is not RDR")
    try:
        mode = jiram.mode_from_label(ident["INSTRUMENT_MODE_ID"])
    except ValueError as exc:
        raise ProductError(
            f"{name}: INSTRUMENT_MODE_ID {ident['INSTRUMENT_MODE_ID']!r} is not an imager mode (I1/I2/I3)"
        ) from exc

    image_block = meta.metablock_("IMAGE")
    if not image_block or "LINES" not in image_block:
        raise ProductError(f"{name}: no OBJECT = IMAGE in the label")
    try:
        lines, samples = int(image_block["LINES"]), int(image_block["LINE_SAMPLES"])
        bits = int(image_block.get("SAMPLE_BITS", 32))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProductError(f"{name}: IMAGE object lacks integer LINES/LINE_SAMPLES/SAMPLE_BITS") from exc
    if bits != 32 or "REAL" not in _str(image_block.get("SAMPLE_TYPE")).upper():
        raise ProductError(
            f"{name}: IMAGE is {image_block.get('SAMPLE_TYPE')} × {bits} bits, not 32-bit real"
        )
    if samples != jiram.N_SAMPLES or lines not in _MODE_LINES[mode]:
        raise ProductError(
            f"{name}: {lines}×{samples} image does not fit mode {mode} "
            f"({_MODE_LINES[mode][0]}×{jiram.N_SAMPLES})"
        )
    pointer = meta.metaget_("^IMAGE")
    offset = 0
    if isinstance(pointer, list | tuple):  # ("FILE.IMG", record) form
        record_bytes = int(meta.metaget_("RECORD_BYTES", samples * 4))
        pointer, offset = pointer[0], (int(pointer[1]) - 1) * record_bytes
    if not isinstance(pointer, str) or not pointer:
        raise ProductError(f"{name}: ^IMAGE pointer does not name a detached data file ({pointer!r})")
    img_path = _find_data_file(label_path, _str(pointer))
    expected = offset + lines * samples * 4
    size = img_path.stat().st_size
    if size < expected:
        raise ProductError(
            f"{img_path.name}: truncated: {size} bytes, label needs {expected} "
            f"({lines}×{samples}×4 + {offset})"
        )
    if offset == 0 and size != expected:
        raise ProductError(f"{img_path.name}: {size} bytes disagree with LINES×LINE_SAMPLES×4 = {expected}")

    arr = _image_pixels(_PdrData(label_path), image_block, img_path, offset, lines, samples, name)

    unit = jiram_pixel_unit(meta.metaget_("UNIT"), where=label_path)
    grp = meta.metablock_(IOSCAN_GROUP) or {}
    saturation = _num(grp.get("SATURATION_LEVEL"))
    bands: dict[str, BandImage] = {}
    m_offset = jiram.N_LINES_PER_BAND + (jiram.GAP_LINES if lines == 266 else 0)
    for bname in jiram.MODES[mode]:
        b = jiram.BANDS[bname]
        first = m_offset if (mode == "I1" and bname == "M") else 0
        bands[bname] = BandImage(
            band=bname,
            data=arr[first : first + jiram.N_LINES_PER_BAND],
            unit=unit,
            wavelength_um=b.center_um,
            bandwidth_um=b.bandwidth_um,
            saturation=saturation,
            line_offset=first,
            spice_frame=b.spice_frame,
        )

    start_txt, stop_txt = meta.metaget_("START_TIME"), meta.metaget_("STOP_TIME")
    if start_txt is None:
        raise ProductError(f"{name}: no START_TIME")
    start = parse_utc(start_txt, where=label_path, what="START_TIME")
    stop = parse_utc(stop_txt, where=label_path, what="STOP_TIME") if stop_txt is not None else None
    exposure = _num(meta.metaget_("EXPOSURE_DURATION"))
    if exposure is None:
        exposure = (stop - start).total_seconds() if stop is not None else 0.0
    mid = mid_time(start, stop) if stop is not None else add_seconds(start, exposure / 2)
    orbit = _num(meta.metaget_("ORBIT_NUMBER"))
    geometry, partial = _label_geometry(meta, name)
    spice = meta.metaget_("SPICE_FILE_NAME")
    spice_names = (
        sorted(_str(s) for s in spice)
        if isinstance(spice, set | list | tuple)
        else ([] if _str(spice) in ("", "N/A") else [_str(spice)])
    )
    metadata = {
        "data_set_id": ident["DATA_SET_ID"],
        "instrument_mode_id": ident["INSTRUMENT_MODE_ID"],
        "start_time_utc": iso_utc(start),
        "stop_time_utc": iso_utc(stop) if stop is not None else None,
        "sclk_start": _str(meta.metaget_("SPACECRAFT_CLOCK_START_COUNT")),
        "target_name": _str(meta.metaget_("TARGET_NAME")),
        "label_unit": _str(meta.metaget_("UNIT")),
        "spice_file_names": spice_names,
        "data_file": img_path.name,
        "label_geometry_partial": partial,
        "target": label_target(meta, list(bands)),
        "onboard_background_subtraction": onboard_background_subtraction(meta),
        "archive_geometry": archive_geometry(meta, mode),
    }
    metadata["label_warnings"], metadata["label_vectors_km"] = validate_label(meta, lines * samples)
    product_id = ident["PRODUCT_ID"] or label_path.stem
    base_id, version, created = _version_fields(meta, label_path, product_id)
    return Frame(
        product_id=product_id,
        instrument="JIRAM",
        observer="JUNO",
        time_utc=iso_utc(mid),
        exposure_s=float(exposure),
        bands=bands,
        mode=mode,
        orbit=None if orbit is None else int(orbit),
        label_geometry=geometry,
        path=label_path,
        checksum_sha256=_data_checksum(img_path),
        metadata=metadata,
        base_product_id=base_id,
        product_version=version,
        product_created_utc=created,
    )
