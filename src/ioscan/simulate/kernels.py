"""Write a complete, self-consistent SPICE kernel set for simulated Juno JIRAM observations of Io.

No kernel is downloaded: the frames kernel is NAIF's own (shipped in ``ioscan/data/naif``), every other file
is written here from the analytic models of :mod:`ioscan.simulate.ephemeris` (so the Python planner and SPICE
agree):

========================  ==============================================================================
``ioscan_lsk.tls``        leap seconds (naif0012 table up to 2017-01-01) and DELTET constants
``ioscan_pck.tpc``        Io (pck00010, with the Jupiter-system nutation terms), Jupiter, Sun, Earth
``juno_v12_mod.tf``       NAIF's Juno frames kernel, copied as is: JUNO_SPACECRAFT (CK frame −61000) and the
                          real JIRAM chain JUNO_JIRAM_URF → _S → _I → _I_LBAND / _I_MBAND (TK frames)
``ioscan_jiram.ti``       IK with the keywords and values of NAIF's juno_jiram_v02.ti that ioscan knows:
                          FOV (rectangle, reference vector +X = along track), boresight, IFOV, focal length,
                          pixel size
``ioscan_juno.tsc``       Juno SCLK (type 1, 2 fields, 256 ticks per second, TDB)
``ioscan_natural.bsp``    Sun (10 wrt 0, at the origin), Jupiter barycentre (5 wrt 0, Kepler, type 5),
                          Jupiter (599 wrt 5, at the barycentre), Io (501 wrt 5, type 13), Earth
                          (399 wrt 0, Kepler, type 5)
``ioscan_juno.bsp``       Juno (−61 wrt 501): one Hermite (type 13) segment around each observation
``ioscan_juno.bc``        JUNO_SPACECRAFT attitude (type 3) around each observation
``ioscan.tm``             metakernel with PATH_VALUES/PATH_SYMBOLS (works after the folder moves)
========================  ==============================================================================

Pixel axes: the kernels fix that lines run along X and samples along Y, not the signs; ioscan takes them from
:data:`ioscan.instruments.jiram.PIXEL_AXES` (lines along −X, samples along −Y of the band frames): pixel
(s, l), 0-based, looks along ``+Z − (s − 215.5)·IFOV·Y − (l − 63.5)·IFOV·X`` in a band frame.

Main entry point: :func:`write_kernel_set`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ioscan.errors import GeometryError
from ioscan.instruments import jiram
from ioscan.simulate import ephemeris as eph
from ioscan.simulate.ephemeris import PlannedObservation

NAMES = {
    "lsk": "ioscan_lsk.tls",
    "pck": "ioscan_pck.tpc",
    "fk": jiram.FRAMES_KERNEL,
    "ik": "ioscan_jiram.ti",
    "sclk": "ioscan_juno.tsc",
    "natural_spk": "ioscan_natural.bsp",
    "juno_spk": "ioscan_juno.bsp",
    "ck": "ioscan_juno.bc",
    "metakernel": "ioscan.tm",
}
SCLK_TICKS_PER_SECOND = 256.0
#: ET of SCLK count 0 (TDB seconds past J2000): 2000-01-01.
SCLK_EPOCH_ET = -43200.0
NATURAL_PAD_S = 2 * eph.SECONDS_PER_DAY


# --------------------------------------------------------------------------------------------- text kernels
def _fmt_values(values: Sequence[float], per_line: int = 4, indent: int = 30) -> str:
    items = [repr(float(v)) if not isinstance(v, str) else v for v in values]
    lines = [" ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ("\n" + " " * indent).join(lines)


def lsk_text() -> str:
    """Text of the leap-seconds kernel (naif0012 content up to the 2017-01-01 leap second)."""
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    rows = []
    for date, dat in eph.LEAP_SECONDS:
        y, m, d = date.split("-")
        rows.append(f"{dat:4d}, @{y}-{months[int(m) - 1]}-{int(d)}")
    d = eph.DELTET
    return (
        "KPL/LSK\n\nioscan leap-seconds kernel (content of NAIF's naif0012.tls up to 2017-01-01).\n\n"
        "\\begindata\n\n"
        f"DELTET/DELTA_T_A = {d['DELTA_T_A']}\nDELTET/K = {d['K']}\nDELTET/EB = {d['EB']}\n"
        f"DELTET/M = ( {d['M0']} {d['M1']} )\n"
        "DELTET/DELTA_AT = ( " + ",\n                     ".join(rows) + " )\n\n\\begintext\n"
    )


def _pck_body_text(b: eph.PckBody, comment: str) -> str:
    out = [f"\n{comment}\n\n\\begindata\n"]
    out.append(f"BODY{b.naif_id}_RADII = ( {_fmt_values(b.radii_km)} )")
    out.append(f"BODY{b.naif_id}_POLE_RA = ( {_fmt_values(b.pole_ra)} )")
    out.append(f"BODY{b.naif_id}_POLE_DEC = ( {_fmt_values(b.pole_dec)} )")
    out.append(f"BODY{b.naif_id}_PM = ( {_fmt_values(b.pm)} )")
    for key, vals in (("RA", b.nut_prec_ra), ("DEC", b.nut_prec_dec), ("PM", b.nut_prec_pm)):
        if vals:
            out.append(f"BODY{b.naif_id}_NUT_PREC_{key} = ( {_fmt_values(vals, 5)} )")
    return "\n".join(out) + "\n\n\\begintext\n"


def pck_text() -> str:
    """Text PCK: pck00010 constants of Io (with nutation terms), Jupiter, the Sun and the Earth."""
    angles = [v for pair in eph.JUPITER_NUT_PREC_ANGLES for v in pair]
    return (
        "KPL/PCK\n\nioscan planetary constants (values of NAIF pck00010.tpc).\n"
        + _pck_body_text(eph.SUN_PCK, "Sun")
        + _pck_body_text(eph.EARTH_PCK, "Earth (IAU 2009 model; no nutation terms)")
        + "\nJupiter-system nutation/precession angles (deg, deg/century)\n\n\\begindata\n"
        + f"BODY5_NUT_PREC_ANGLES = ( {_fmt_values(angles, 2)} )\n\n\\begintext\n"
        + _pck_body_text(eph.JUPITER_PCK, "Jupiter")
        + _pck_body_text(eph.IO_PCK, "Io")
        + "\n\\begindata\nBODY501_LONG_AXIS = ( 0.0 )\n\\begintext\n"
    )


def _ik_block(code: int, frame: str, half_along_deg: float) -> str:
    return (
        f"INS{code}_FOV_FRAME = '{frame}'\nINS{code}_FOV_SHAPE = 'RECTANGLE'\n"
        f"INS{code}_BORESIGHT = ( 0.0, 0.0, 1.0 )\nINS{code}_FOV_CLASS_SPEC = 'ANGLES'\n"
        f"INS{code}_FOV_REF_VECTOR = ( 1.0, 0.0, 0.0 )\nINS{code}_FOV_REF_ANGLE = ( {half_along_deg} )\n"
        f"INS{code}_FOV_CROSS_ANGLE = ( {IK_HALF_ACROSS_DEG} )\nINS{code}_FOV_ANGLE_UNITS = 'DEGREES'\n"
        f"INS{code}_IFOV = ( {jiram.IFOV_RAD!r} )\nINS{code}_FOCAL_LENGTH = ( {IK_FOCAL_LENGTH_MM} )\n"
        f"INS{code}_PIXEL_SIZE = ( {IK_PIXEL_SIZE_UM} )\n\n"
    )


#: values of NAIF's juno_jiram_v02.ti: FOV half-angles (deg; reference vector +X = along track), focal length
#: (mm), pixel size (µm)
IK_HALF_ALONG_BAND_DEG = 0.872
IK_HALF_ALONG_IMAGER_DEG = 1.8121
IK_HALF_ACROSS_DEG = 2.943
IK_FOCAL_LENGTH_MM = 159.82033
IK_PIXEL_SIZE_UM = 38.0


def ik_text() -> str:
    """Instrument kernel of the JIRAM imager (JIRAM_I whole detector and the L and M bands) with the keywords
    and values of NAIF's juno_jiram_v02.ti that ioscan knows of; no pixel-axis keyword (the kernels do not fix
    the sample direction)."""
    return (
        "KPL/IK\n\nioscan JIRAM imager IK: keywords and values of NAIF's juno_jiram_v02.ti (FOV, boresight,\n"
        "IFOV, focal length, pixel size). Like the real kernels it does not say which way samples run:\n"
        "ioscan takes the pixel layout and axes from ioscan.instruments.jiram (lines along -X, samples\n"
        "along -Y of each frame).\n\n\\begindata\n\n"
        + _ik_block(jiram.NAIF_ID_JIRAM_I, jiram.JIRAM_I_FRAME, IK_HALF_ALONG_IMAGER_DEG)
        + _ik_block(jiram.NAIF_ID_JIRAM_I_LBAND, jiram.L_BAND.spice_frame, IK_HALF_ALONG_BAND_DEG)
        + _ik_block(jiram.NAIF_ID_JIRAM_I_MBAND, jiram.M_BAND.spice_frame, IK_HALF_ALONG_BAND_DEG)
        + "\\begintext\n"
    )


def sclk_text() -> str:
    """Juno SCLK kernel (type 1): count = 2 fields (seconds, 1/256 s), TDB, zero at :data:`SCLK_EPOCH_ET`."""
    return (
        "KPL/SCLK\n\nioscan Juno spacecraft clock: 256 ticks per second, parallel time TDB, no drift.\n\n"
        "\\begindata\n\nSCLK_KERNEL_ID = ( @2000-01-01/00:00 )\nSCLK_DATA_TYPE_61 = ( 1 )\n"
        "SCLK01_TIME_SYSTEM_61 = ( 1 )\nSCLK01_N_FIELDS_61 = ( 2 )\nSCLK01_MODULI_61 = ( 4294967296 256 )\n"
        "SCLK01_OFFSETS_61 = ( 0 0 )\nSCLK01_OUTPUT_DELIM_61 = ( 1 )\nSCLK_PARTITION_START_61 = ( 0.0 )\n"
        "SCLK_PARTITION_END_61 = ( 1.0995116277760E+12 )\n"
        f"SCLK01_COEFFICIENTS_61 = ( 0.0 {SCLK_EPOCH_ET!r} 1.0 )\n\n\\begintext\n"
    )


def et_to_sclk_ticks(et: float) -> float:
    """Encoded Juno SCLK (ticks) of an ephemeris time, for the SCLK kernel written here."""
    return (float(et) - SCLK_EPOCH_ET) * SCLK_TICKS_PER_SECOND


def metakernel_text(files: Sequence[str]) -> str:
    """Metakernel listing ``files`` (names inside the metakernel's folder) via a PATH_SYMBOLS entry."""
    listed = ",\n                     ".join(f"'$KERNELS/{name}'" for name in files)
    return (
        "KPL/MK\n\nioscan simulated kernel set. PATH_VALUES is relative to this file's folder: ioscan\n"
        "(ioscan.geometry.spice_provider) resolves it there, so the folder can be moved; with plain SPICE,\n"
        "run from this folder or edit PATH_VALUES.\n\n\\begindata\n\n"
        "PATH_VALUES = ( '.' )\nPATH_SYMBOLS = ( 'KERNELS' )\n"
        f"KERNELS_TO_LOAD = ( {listed} )\n\n\\begintext\n"
    )


# ------------------------------------------------------------------------------------------ binary kernels
def _spice():
    import spiceypy

    return spiceypy


def _open_spk(path: Path, name: str):
    sp = _spice()
    if path.exists():
        path.unlink()
    return sp.spkopn(str(path), name[:60], 2048)


def write_natural_spk(path: Path, start_et: float, stop_et: float, *, io_step_s: float = 3600.0) -> Path:
    """SPK of the Sun, Jupiter barycentre, Jupiter, Io and the Earth over [start_et, stop_et] (no padding)."""
    sp = _spice()
    path = Path(path)
    handle = _open_spk(path, "ioscan natural bodies")
    try:
        zeros = np.zeros((2, 6))
        sp.spkw09(handle, 10, 0, "J2000", start_et, stop_et, "SUN AT SSB", 1, 2, zeros, [start_et, stop_et])
        for body, orbit, label in (
            (5, eph.JUPITER_ORBIT, "JUPITER BARYCENTER"),
            (399, eph.EARTH_ORBIT, "EARTH"),
        ):
            epochs = np.linspace(start_et, stop_et, max(2, int((stop_et - start_et) / 86400.0 / 30.0) + 2))
            states = np.array([orbit.state_j2000(t) for t in epochs])
            sp.spkw05(
                handle,
                body,
                0,
                "J2000",
                start_et,
                stop_et,
                f"{label} KEPLER",
                orbit.gm,
                len(epochs),
                states,
                epochs,
            )
        sp.spkw09(
            handle,
            599,
            5,
            "J2000",
            start_et,
            stop_et,
            "JUPITER AT BARYCENTER",
            1,
            2,
            zeros,
            [start_et, stop_et],
        )
        n = max(10, int(math.ceil((stop_et - start_et) / io_step_s)) + 1)
        epochs = np.linspace(start_et, stop_et, n)
        states = np.array([eph.io_state_j2000(t) for t in epochs])
        sp.spkw13(handle, 501, 5, "J2000", start_et, stop_et, "IO CIRCULAR SYNCHRONOUS", 9, n, states, epochs)
    finally:
        sp.spkcls(handle)
    return path


def _half_windows(ets: np.ndarray, half_window_s: float) -> np.ndarray:
    order = np.argsort(ets)
    gaps = np.diff(ets[order])
    if np.any(gaps <= 0.0):
        raise GeometryError("two planned observations have the same time; kernels need distinct times")
    half = np.full(len(ets), float(half_window_s))
    if len(ets) > 1:
        left = np.concatenate([[np.inf], gaps]) * 0.45
        right = np.concatenate([gaps, [np.inf]]) * 0.45
        half[order] = np.minimum(half[order], np.minimum(left, right))
    return half


def write_juno_spk(
    path: Path, observations: Sequence[PlannedObservation], *, half_window_s: float = 30.0
) -> Path:
    """SPK of Juno relative to Io: one type-13 segment per observation, straight-line motion (J2000)
    through the planned state over ±half-window (shrunk so that segments never overlap)."""
    sp = _spice()
    path = Path(path)
    ets = np.array([o.et for o in observations])
    half = _half_windows(ets, half_window_s)
    handle = _open_spk(path, "ioscan Juno")
    try:
        for obs, et, h in zip(observations, ets, half, strict=True):
            st = obs.state_j2000()
            epochs = np.array([et - h, et, et + h])
            states = np.array([np.concatenate([st[:3] + st[3:] * (t - et), st[3:]]) for t in epochs])
            sp.spkw13(
                handle,
                jiram.NAIF_ID_JUNO,
                501,
                "J2000",
                et - h,
                et + h,
                "JUNO " + obs.time_utc[:40],
                3,
                3,
                states,
                epochs,
            )
    finally:
        sp.spkcls(handle)
    return path


def write_juno_ck(
    path: Path, observations: Sequence[PlannedObservation], *, half_window_s: float = 30.0
) -> Path:
    """Type-3 CK of JUNO_SPACECRAFT (−61000, the CK frame NAIF's FK hangs the JIRAM frames on): around each
    observation the attitude keeps JIRAM fixed relative to IAU_IO (quaternions at t−h, t, t+h, linear
    interpolation), exact at the planned time."""
    sp = _spice()
    path = Path(path)
    if path.exists():
        path.unlink()
    ets = np.array([o.et for o in observations])
    half = _half_windows(ets, half_window_s)
    handle = sp.ckopn(str(path), "ioscan Juno CK", 0)
    try:
        for obs, et, h in zip(observations, ets, half, strict=True):
            epochs = [et - h, et, et + h]
            quats = []
            for t in epochs:
                j2000_to_inst = (eph.IO_PCK.rotation(t).T @ np.asarray(obs.jiram_to_body, dtype=float)).T
                c_matrix = eph.JIRAM_I_IN_SPACECRAFT @ j2000_to_inst  # J2000 → spacecraft
                quats.append(sp.m2q(c_matrix))
            ticks = [et_to_sclk_ticks(t) for t in epochs]
            sp.ckw03(
                handle,
                ticks[0],
                ticks[-1],
                -61000,
                "J2000",
                False,
                "JUNO " + obs.time_utc[:40],
                3,
                ticks,
                np.array(quats),
                np.zeros((3, 3)),
                1,
                [ticks[0]],
            )
    finally:
        sp.ckcls(handle)
    return path


# --------------------------------------------------------------------------------------------------- all
def write_kernel_set(
    out_dir,
    observations: Sequence[PlannedObservation] = (),
    *,
    start_utc: str,
    stop_utc: str,
    half_window_s: float = 30.0,
    io_step_s: float = 3600.0,
) -> Path:
    """Write the whole kernel set into ``out_dir`` and return the metakernel's path.

    Args:
        out_dir: folder (created if needed); existing files of the set are overwritten.
        observations: planned JIRAM frames (may be empty: then no Juno SPK/CK is written).
        start_utc, stop_utc: span of the natural-body ephemeris (padded by 2 days each side so that
            light-time-corrected epochs stay covered). Every observation must fall inside it.
        half_window_s: Juno SPK/CK coverage on each side of an observation, s (shrunk between close frames).
        io_step_s: sampling step of Io's orbit in the SPK, s (Hermite degree 9: error < 1e-9 km at 3600 s).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_et, stop_et = eph.utc_to_et(start_utc), eph.utc_to_et(stop_utc)
    if stop_et <= start_et:
        raise GeometryError(f"kernel span {start_utc} → {stop_utc} is empty")
    for obs in observations:
        if not start_et <= obs.et <= stop_et:
            raise GeometryError(
                f"observation {obs.time_utc} is outside the kernel span {start_utc} → {stop_utc}"
            )
    texts = {"lsk": lsk_text(), "pck": pck_text(), "ik": ik_text(), "sclk": sclk_text()}
    for key, text in texts.items():
        (out / NAMES[key]).write_text(text)
    shutil.copyfile(jiram.naif_frames_kernel(), out / NAMES["fk"])
    write_natural_spk(
        out / NAMES["natural_spk"], start_et - NATURAL_PAD_S, stop_et + NATURAL_PAD_S, io_step_s=io_step_s
    )
    files = [NAMES[k] for k in ("lsk", "pck", "fk", "ik", "sclk", "natural_spk")]
    if observations:
        write_juno_spk(out / NAMES["juno_spk"], observations, half_window_s=half_window_s)
        write_juno_ck(out / NAMES["ck"], observations, half_window_s=half_window_s)
        files += [NAMES["juno_spk"], NAMES["ck"]]
    mk = out / NAMES["metakernel"]
    mk.write_text(metakernel_text(files))
    return mk
