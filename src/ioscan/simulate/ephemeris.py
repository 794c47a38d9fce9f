"""Analytic ephemeris of the simulated Jupiter system — usable *before* any SPICE kernel exists.

Everything here uses the same formulas and constants as the kernels :mod:`ioscan.simulate.kernels` writes,
so a planner can design observations in Python and the SPICE geometry of the written kernels agrees:

* time: UTC → ephemeris time (TDB seconds past J2000) exactly as SPICE ``str2et`` does with the LSK written
  here (:data:`LEAP_SECONDS`, :data:`DELTET`);
* Io's orientation: the IAU/NAIF pck00010 model including the Jupiter-system nutation terms (:data:`IO_PCK`,
  :data:`JUPITER_NUT_PREC_ANGLES`), :func:`body_rotation` = SPICE ``pxform("J2000", "IAU_IO", et)``;
* Io's orbit: circular, radius :data:`IO_ORBIT_RADIUS_KM`, built so that Jupiter stays exactly at Io's
  body-fixed +X axis (sub-Jupiter point at 0° longitude): Io = −a·(IAU_IO +X axis in J2000);
* Jupiter barycentre and Earth: heliocentric Kepler orbits (J2000 ecliptic mean elements);
* the JIRAM imager frames: :data:`JIRAM_I_IN_SPACECRAFT` and the L/M band frames, from NAIF's frames kernel.

All vectors are km, km/s; "J2000" is the SPICE inertial frame J2000 (ICRF for our purpose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from ioscan.body import IO
from ioscan.geometry.camera import image_directions
from ioscan.geometry.tk_frames import fixed_rotation
from ioscan.instruments import jiram

SECONDS_PER_DAY = 86400.0
SECONDS_PER_CENTURY = 36525.0 * SECONDS_PER_DAY
AU_KM = 149597870.7
GM_SUN_KM3_S2 = 1.32712440041279419e11
CLIGHT_KM_S = 299792.458

# --------------------------------------------------------------------------------------------------- time
#: (first UTC day it applies, TAI − UTC in s) — the leap-second table of naif0012.tls (up to 2017-01-01).
LEAP_SECONDS: tuple[tuple[str, int], ...] = (
    ("1972-01-01", 10),
    ("1972-07-01", 11),
    ("1973-01-01", 12),
    ("1974-01-01", 13),
    ("1975-01-01", 14),
    ("1976-01-01", 15),
    ("1977-01-01", 16),
    ("1978-01-01", 17),
    ("1979-01-01", 18),
    ("1980-01-01", 19),
    ("1981-07-01", 20),
    ("1982-07-01", 21),
    ("1983-07-01", 22),
    ("1985-07-01", 23),
    ("1988-01-01", 24),
    ("1990-01-01", 25),
    ("1991-01-01", 26),
    ("1992-07-01", 27),
    ("1993-07-01", 28),
    ("1994-07-01", 29),
    ("1996-01-01", 30),
    ("1997-07-01", 31),
    ("1999-01-01", 32),
    ("2006-01-01", 33),
    ("2009-01-01", 34),
    ("2012-07-01", 35),
    ("2015-07-01", 36),
    ("2017-01-01", 37),
)
#: DELTET constants of naif0012.tls: TDB − TAI = DELTA_T_A + K·sin(E), E = M + EB·sin(M), M = M0 + M1·t.
DELTET = {"DELTA_T_A": 32.184, "K": 1.657e-3, "EB": 1.671e-2, "M0": 6.239996, "M1": 1.99096871e-7}

_J2000_UTC = datetime(2000, 1, 1, 12, 0, 0, tzinfo=UTC)


def _parse_utc(time_utc: str) -> datetime:
    text = str(time_utc).strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 UTC time: {time_utc!r}") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _tai_minus_utc(dt: datetime) -> int:
    day = dt.strftime("%Y-%m-%d")
    value = 0
    for start, dat in LEAP_SECONDS:
        if day >= start:
            value = dat
    if value == 0:
        raise ValueError(f"time {dt.isoformat()} precedes the leap-second table (1972)")
    return value


def utc_to_et(time_utc) -> float:
    """ISO UTC string → ephemeris time (TDB s past J2000), SPICE ``str2et``'s algorithm with our LSK.

    A float is taken as ET already and returned unchanged.
    """
    if isinstance(time_utc, (int, float, np.floating)):
        return float(time_utc)
    dt = _parse_utc(time_utc)
    delta = dt - _J2000_UTC
    utc_s = delta.days * SECONDS_PER_DAY + delta.seconds + delta.microseconds * 1e-6
    tai_s = utc_s + _tai_minus_utc(dt)
    tt = tai_s + DELTET["DELTA_T_A"]
    m = DELTET["M0"] + DELTET["M1"] * tt
    e = m + DELTET["EB"] * math.sin(m)
    return tt + DELTET["K"] * math.sin(e)


def et_to_utc(et: float) -> str:
    """Ephemeris time → ISO UTC string with microseconds (inverse of :func:`utc_to_et`, to < 1 µs)."""
    from datetime import timedelta

    guess = _J2000_UTC + timedelta(seconds=float(et) - 69.184)
    for _ in range(3):
        err = utc_to_et(guess.strftime("%Y-%m-%dT%H:%M:%S.%f")) - float(et)
        guess -= timedelta(seconds=err)
    return guess.strftime("%Y-%m-%dT%H:%M:%S.%f")


# ----------------------------------------------------------------------------------------- orientation
#: Jupiter-system nutation/precession angles (deg, deg per Julian century), pck00010 BODY5_NUT_PREC_ANGLES.
JUPITER_NUT_PREC_ANGLES: tuple[tuple[float, float], ...] = (
    (73.32, 91472.9),
    (24.62, 45137.2),
    (283.90, 4850.7),
    (355.80, 1191.3),
    (119.90, 262.1),
    (229.80, 64.3),
    (352.25, 2382.6),
    (113.35, 6070.0),
    (146.64, 182945.8),
    (49.24, 90274.4),
    (99.360714, 4850.4046),
    (175.895369, 1191.9605),
    (300.323162, 262.5475),
    (114.012305, 6070.2476),
    (49.511251, 64.3000),
)


@dataclass(frozen=True)
class PckBody:
    """IAU rotation model of one body as a text PCK states it (angles in degrees)."""

    naif_id: int
    radii_km: tuple[float, float, float]
    pole_ra: tuple[float, float, float]  # deg, deg/century, deg/century²
    pole_dec: tuple[float, float, float]
    pm: tuple[float, float, float]  # deg, deg/day, deg/day²
    nut_prec_ra: tuple[float, ...] = ()
    nut_prec_dec: tuple[float, ...] = ()
    nut_prec_pm: tuple[float, ...] = ()
    nut_prec_angles: tuple[tuple[float, float], ...] = field(default=(), repr=False)

    def angles_rad(self, et: float) -> tuple[float, float, float]:
        """(RA, Dec, W) of the pole and prime meridian at ``et``, radians (SPICE's PCK evaluation)."""
        return self.angles_and_rates(et)[0]

    def angles_and_rates(self, et: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """((RA, Dec, W) in rad, their time derivatives in rad/s), analytic (no finite differences)."""
        t = et / SECONDS_PER_CENTURY
        d = et / SECONDS_PER_DAY
        ra = self.pole_ra[0] + self.pole_ra[1] * t + self.pole_ra[2] * t * t
        dec = self.pole_dec[0] + self.pole_dec[1] * t + self.pole_dec[2] * t * t
        w = self.pm[0] + self.pm[1] * d + self.pm[2] * d * d
        ra_dot = (self.pole_ra[1] + 2.0 * self.pole_ra[2] * t) / SECONDS_PER_CENTURY
        dec_dot = (self.pole_dec[1] + 2.0 * self.pole_dec[2] * t) / SECONDS_PER_CENTURY
        w_dot = (self.pm[1] + 2.0 * self.pm[2] * d) / SECONDS_PER_DAY
        n = max(len(self.nut_prec_ra), len(self.nut_prec_dec), len(self.nut_prec_pm))
        for i in range(n):
            theta = math.radians(self.nut_prec_angles[i][0] + self.nut_prec_angles[i][1] * t)
            theta_dot = math.radians(self.nut_prec_angles[i][1]) / SECONDS_PER_CENTURY
            s, c = math.sin(theta), math.cos(theta)
            if i < len(self.nut_prec_ra):
                ra += self.nut_prec_ra[i] * s
                ra_dot += self.nut_prec_ra[i] * c * theta_dot
            if i < len(self.nut_prec_dec):
                dec += self.nut_prec_dec[i] * c
                dec_dot -= self.nut_prec_dec[i] * s * theta_dot
            if i < len(self.nut_prec_pm):
                w += self.nut_prec_pm[i] * s
                w_dot += self.nut_prec_pm[i] * c * theta_dot
        rad = math.radians
        return (rad(ra), rad(dec), rad(w % 360.0)), (rad(ra_dot), rad(dec_dot), rad(w_dot))

    def rotation(self, et: float) -> np.ndarray:
        """3×3 matrix J2000 → body-fixed frame at ``et`` ([W]₃ [π/2 − δ]₁ [π/2 + α]₃, as SPICE's tipbod)."""
        ra, dec, w = self.angles_rad(et)
        return _rot3(w) @ _rot1(math.pi / 2 - dec) @ _rot3(math.pi / 2 + ra)

    def rotation_rate(self, et: float) -> np.ndarray:
        """Time derivative of :meth:`rotation`, 1/s (analytic)."""
        (ra, dec, w), (ra_dot, dec_dot, w_dot) = self.angles_and_rates(et)
        a, b, c = _rot3(w), _rot1(math.pi / 2 - dec), _rot3(math.pi / 2 + ra)
        return (
            (_drot3(w) @ b @ c) * w_dot
            - (a @ _drot1(math.pi / 2 - dec) @ c) * dec_dot
            + (a @ b @ _drot3(math.pi / 2 + ra)) * ra_dot
        )


def _rot1(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def _rot3(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _drot1(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[0.0, 0.0, 0.0], [0.0, -s, c], [0.0, -c, -s]])


def _drot3(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[-s, c, 0.0], [-c, -s, 0.0], [0.0, 0.0, 0.0]])


#: Io (pck00010) with the J3/J4 nutation terms.
IO_PCK = PckBody(
    501,
    (IO.a_km, IO.b_km, IO.c_km),
    (268.05, -0.009, 0.0),
    (64.50, 0.003, 0.0),
    (200.39, 203.4889538, 0.0),
    (0.0, 0.0, 0.094, 0.024),
    (0.0, 0.0, 0.040, 0.011),
    (0.0, 0.0, -0.085, -0.022),
    JUPITER_NUT_PREC_ANGLES,
)
#: Jupiter (pck00010).
JUPITER_PCK = PckBody(
    599,
    (71492.0, 71492.0, 66854.0),
    (268.056595, -0.006499, 0.0),
    (64.495303, 0.002413, 0.0),
    (284.95, 870.5360000, 0.0),
    (0.0,) * 10 + (0.000117, 0.000938, 0.001432, 0.000030, 0.002150),
    (0.0,) * 10 + (0.000050, 0.000404, 0.000617, -0.000013, 0.000926),
    (0.0,) * 15,
    JUPITER_NUT_PREC_ANGLES,
)
SUN_PCK = PckBody(
    10, (696000.0, 696000.0, 696000.0), (286.13, 0.0, 0.0), (63.87, 0.0, 0.0), (84.176, 14.1844, 0.0)
)
EARTH_PCK = PckBody(
    399,
    (6378.1366, 6378.1366, 6356.7519),
    (0.0, -0.641, 0.0),
    (90.0, -0.557, 0.0),
    (190.147, 360.9856235, 0.0),
)


def body_rotation(time_utc) -> np.ndarray:
    """3×3 matrix rotating J2000 vectors into IAU_IO at ``time_utc`` (ISO UTC, or ET seconds as float)."""
    return IO_PCK.rotation(utc_to_et(time_utc))


def body_rotation_rate(time_utc) -> np.ndarray:
    """Time derivative of :func:`body_rotation`, 1/s (analytic)."""
    return IO_PCK.rotation_rate(utc_to_et(time_utc))


# ------------------------------------------------------------------------------------------------ orbits
IO_ORBIT_RADIUS_KM = 421700.0


def io_state_j2000(time_utc) -> np.ndarray:
    """Io's state relative to the Jupiter barycentre (6,), J2000, km and km/s.

    Io = −a·x̂ where x̂ is IAU_IO's +X axis in J2000: Jupiter sits exactly at Io's sub-Jupiter point (0°).
    The period is therefore Io's rotation period (1.769 d) and the orbit follows the PCK's pole.
    """
    et = utc_to_et(time_utc)
    pos = -IO_ORBIT_RADIUS_KM * IO_PCK.rotation(et)[0]
    vel = -IO_ORBIT_RADIUS_KM * body_rotation_rate(et)[0]
    return np.concatenate([pos, vel])


@dataclass(frozen=True)
class KeplerOrbit:
    """Heliocentric two-body orbit from mean elements referred to the J2000 ecliptic (ECLIPJ2000).

    Attributes: semi-major axis (au), eccentricity, inclination, longitude of the ascending node, argument
    of perihelion and mean anomaly at ``epoch_et`` (degrees); ``gm`` in km³/s².
    """

    a_au: float
    e: float
    i_deg: float
    node_deg: float
    argp_deg: float
    mean_anomaly_deg: float
    epoch_et: float = 0.0
    gm: float = GM_SUN_KM3_S2

    def state_j2000(self, et: float) -> np.ndarray:
        """State (6,) relative to the Sun in J2000 at ``et``, km and km/s."""
        a = self.a_au * AU_KM
        n = math.sqrt(self.gm / a**3)
        m = math.radians(self.mean_anomaly_deg) + n * (et - self.epoch_et)
        m = math.remainder(m, 2 * math.pi)
        ecc_anom = m
        for _ in range(50):
            step = (ecc_anom - self.e * math.sin(ecc_anom) - m) / (1.0 - self.e * math.cos(ecc_anom))
            ecc_anom -= step
            if abs(step) < 1e-15:
                break
        cos_e, sin_e = math.cos(ecc_anom), math.sin(ecc_anom)
        root = math.sqrt(1.0 - self.e**2)
        x, y = a * (cos_e - self.e), a * root * sin_e
        edot = n / (1.0 - self.e * cos_e)
        vx, vy = -a * sin_e * edot, a * root * cos_e * edot
        rot = _rot_z(self.node_deg) @ _rot_x(self.i_deg) @ _rot_z(self.argp_deg)
        ecl_to_j2000 = _rot_x(OBLIQUITY_J2000_DEG)
        r = ecl_to_j2000 @ rot @ np.array([x, y, 0.0])
        v = ecl_to_j2000 @ rot @ np.array([vx, vy, 0.0])
        return np.concatenate([r, v])


def _rot_z(deg: float) -> np.ndarray:  # active rotation about z
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_x(deg: float) -> np.ndarray:  # active rotation about x
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


OBLIQUITY_J2000_DEG = 84381.448 / 3600.0  # SPICE's ECLIPJ2000 obliquity
#: Jupiter barycentre (J2000 mean elements: a, e, i, Ω, ω = ϖ − Ω, M = L − ϖ).
JUPITER_ORBIT = KeplerOrbit(5.2038, 0.0489, 1.3044, 100.4739, 14.7285 - 100.4739 + 360.0, 34.3964 - 14.7285)
#: Earth (taken as the Earth–Moon barycentre's orbit; good to ~5000 km, enough for ground-based geometry).
EARTH_ORBIT = KeplerOrbit(1.00000261, 0.01671123, 0.0, 0.0, 102.93768, 100.46457 - 102.93768)


def sun_position_body(time_utc) -> np.ndarray:
    """Geometric Sun position relative to Io in IAU_IO (3,), km — for planning (no aberration)."""
    et = utc_to_et(time_utc)
    io_helio = JUPITER_ORBIT.state_j2000(et)[:3] + io_state_j2000(et)[:3]
    return IO_PCK.rotation(et) @ (-io_helio)


def jupiter_position_body(time_utc) -> np.ndarray:
    """Geometric position of Jupiter's centre (its barycentre, as the kernels put it) relative to Io in
    IAU_IO (3,), km."""
    et = utc_to_et(time_utc)
    return IO_PCK.rotation(et) @ (-io_state_j2000(et)[:3])


def _disk_overlap(r_small: float, r_big: float, sep: float) -> float:
    """Area shared by two disks of radii ``r_small`` ≤ ``r_big`` whose centres are ``sep`` apart (any one
    unit; a plane: fine for the Sun's 0.05° disk against Jupiter's ~19° one seen from Io)."""
    if sep >= r_small + r_big:
        return 0.0
    if sep <= r_big - r_small:
        return math.pi * r_small * r_small
    a = math.acos(np.clip((sep * sep + r_small * r_small - r_big * r_big) / (2.0 * sep * r_small), -1.0, 1.0))
    b = math.acos(np.clip((sep * sep + r_big * r_big - r_small * r_small) / (2.0 * sep * r_big), -1.0, 1.0))
    k = (-sep + r_small + r_big) * (sep + r_small - r_big) * (sep - r_small + r_big) * (sep + r_small + r_big)
    return r_small * r_small * a + r_big * r_big * b - 0.5 * math.sqrt(max(k, 0.0))


def sunlight_fraction(time_utc) -> float:
    """Fraction of the Sun's disk seen from Io's centre past Jupiter's limb: 1 in full sunlight, 0 in
    Jupiter's umbra (Io eclipsed, ~2.2 h of its 42.5-h orbit), between in the ~1-min penumbra.

    Geometric directions; Jupiter's limb as its ellipsoid's outline seen from Io (semi-axes the equatorial
    and polar radii, the polar one along Jupiter's projected pole), taken locally as a circle of the
    outline's radius towards the Sun. The reflected sunlight a simulated frame shows scales with this.
    """
    et = utc_to_et(time_utc)
    jup = jupiter_position_body(time_utc)
    sun = sun_position_body(time_utc)
    d_jup, d_sun = float(np.linalg.norm(jup)), float(np.linalg.norm(sun))
    u_jup, u_sun = jup / d_jup, sun / d_sun
    sep = math.acos(float(np.clip(u_jup @ u_sun, -1.0, 1.0)))
    if sep > math.pi / 2:  # the Sun behind Io's observer side of the sky from Jupiter: sunlit
        return 1.0
    pole = IO_PCK.rotation(et) @ JUPITER_PCK.rotation(et)[2]  # Jupiter's +Z in IAU_IO
    pole_sky = pole - (pole @ u_jup) * u_jup
    off = u_sun - (u_sun @ u_jup) * u_jup  # the Sun's offset from Jupiter's centre on the sky
    r_eq, r_pol = JUPITER_PCK.radii_km[0], JUPITER_PCK.radii_km[2]
    a_eq, a_pol = math.asin(r_eq / d_jup), math.asin(r_pol / d_jup)
    n_off, n_pole = float(np.linalg.norm(off)), float(np.linalg.norm(pole_sky))
    if n_off > 0.0 and n_pole > 0.0:
        c = float(off @ pole_sky) / (n_off * n_pole)  # cos of the offset's angle from the projected pole
        s2 = max(1.0 - c * c, 0.0)
        r_jup = a_eq * a_pol / math.sqrt((a_pol * a_pol) * s2 + (a_eq * a_eq) * c * c)
    else:
        r_jup = a_pol if n_off > 0.0 else a_eq
    r_sun = math.asin(SUN_PCK.radii_km[0] / d_sun)
    hidden = _disk_overlap(r_sun, r_jup, sep) / (math.pi * r_sun * r_sun)
    return float(np.clip(1.0 - hidden, 0.0, 1.0))


# ------------------------------------------------------------------------------------------- JIRAM frames
#: columns = JUNO_JIRAM_I axes expressed in JUNO_SPACECRAFT, from NAIF's frames kernel (JUNO_JIRAM_I → _S →
#: _URF → spacecraft): the boresight lies in the spacecraft's XY plane 164.5° from +X, +Y along the spin axis.
JIRAM_I_IN_SPACECRAFT = fixed_rotation(
    jiram.JIRAM_I_FRAME, jiram.SPACECRAFT_FRAME, jiram.naif_frames_kernel()
)


def band_frame_in_jiram_i(frame_name: str) -> np.ndarray:
    """Columns = axes of a JIRAM band frame expressed in JUNO_JIRAM_I (identity for JUNO_JIRAM_I itself), from
    NAIF's frames kernel: the L (M) band frame is JUNO_JIRAM_I turned by ±0.94012° about +Y, its boresight
    69.0 px toward +X (−X), i.e. 69 detector lines before (after) the JIRAM_I centre."""
    if frame_name == jiram.JIRAM_I_FRAME:
        return np.eye(3)
    if frame_name not in jiram.DETECTORS:
        raise ValueError(f"unknown JIRAM frame {frame_name!r}")
    return fixed_rotation(frame_name, jiram.JIRAM_I_FRAME, jiram.naif_frames_kernel())


def point_at_io(
    observer_km, twist_deg: float = 0.0, *, frame: str = "JUNO_JIRAM_I", target_km=(0.0, 0.0, 0.0)
) -> np.ndarray:
    """JUNO_JIRAM_I → IAU_IO rotation that points ``frame``'s boresight from the observer at ``target_km``.

    ``twist_deg`` is the position angle of Io's north pole (body +Z) in the image of ``frame``, measured
    from "up" (−line) toward −sample, the :class:`ioscan.records.LabelGeometry` ``north_pa_deg`` convention,
    with JIRAM's pixel axes (:data:`ioscan.instruments.jiram.PIXEL_AXES`). Looking straight down a pole, body
    +X plays "north".

    Args:
        observer_km: observer position relative to Io's centre in IAU_IO, km.
        twist_deg: north position angle, degrees.
        frame: "JUNO_JIRAM_I", "JUNO_JIRAM_I_LBAND" or "JUNO_JIRAM_I_MBAND".
        target_km: body-fixed point to centre, km (default Io's centre).
    """
    obs = np.asarray(observer_km, dtype=float)
    b = np.asarray(target_km, dtype=float) - obs
    b /= np.linalg.norm(b)
    axes = jiram.PIXEL_AXES
    u_s, u_l = image_directions(b, (0.0, 0.0, 1.0), twist_deg, mirrored=axes.mirrored)
    frame_to_body = axes.instrument_to(u_s, u_l, b)
    return frame_to_body @ band_frame_in_jiram_i(frame).T


@dataclass
class PlannedObservation:
    """One planned JIRAM frame: where Juno is and how JIRAM points, relative to Io.

    Attributes:
        time_utc: observation time (mid-exposure), ISO UTC.
        observer_km: Juno's geometric position relative to Io's centre in IAU_IO at that time, km (3,).
        observer_velocity_km_s: Juno's velocity relative to Io, in (and relative to) IAU_IO, km/s (3,).
        jiram_to_body: 3×3 rotation of JUNO_JIRAM_I vectors into IAU_IO, both evaluated at ``time_utc``
            (geometric: the kernels store C(J2000→JIRAM_I) = jiram_to_bodyᵀ · body_rotation(time)).
    """

    time_utc: str
    observer_km: np.ndarray
    observer_velocity_km_s: np.ndarray = field(default_factory=lambda: np.zeros(3))
    jiram_to_body: np.ndarray = field(default_factory=lambda: np.eye(3))

    @property
    def et(self) -> float:
        return utc_to_et(self.time_utc)

    def state_j2000(self) -> np.ndarray:
        """Juno's state relative to Io in J2000 (6,), km and km/s."""
        et = self.et
        rot = IO_PCK.rotation(et)
        rate = body_rotation_rate(et)
        r_b = np.asarray(self.observer_km, dtype=float)
        v_b = np.asarray(self.observer_velocity_km_s, dtype=float)
        return np.concatenate([rot.T @ r_b, rot.T @ v_b + rate.T @ r_b])
