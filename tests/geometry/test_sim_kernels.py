"""The kernel writer (ioscan.simulate.kernels) and the analytic ephemeris it shares with planners.

Truth: CSPICE reading the written kernels, astropy's time scales, and the orbits' defining properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import spice_scenes as sc
import spiceypy as sp

from ioscan.simulate import ephemeris as eph
from ioscan.simulate import kernels as kn


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from ioscan.geometry.spice_provider import load_kernels, unload_kernels

    out = tmp_path_factory.mktemp("kset")
    mk = kn.write_kernel_set(out, sc.observations(), start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    load_kernels(mk)
    yield out
    unload_kernels()


TIMES = [
    "1999-12-31T23:59:59.5",
    "2012-06-30T23:59:59",
    "2012-07-01T00:00:00.25",
    "2017-01-01T00:00:00",
    sc.T_CLOSE_LIMB,
    sc.T_FAR,
    "2024-02-03T11:22:33.456789",
]


@pytest.mark.parametrize("utc", TIMES)
def test_utc_to_et_is_str2et(loaded, utc):
    assert eph.utc_to_et(utc) == pytest.approx(sp.str2et(utc), abs=1e-6)
    assert eph.utc_to_et(eph.et_to_utc(sp.str2et(utc))) == pytest.approx(sp.str2et(utc), abs=2e-6)


@pytest.mark.parametrize("utc", TIMES)
def test_lsk_agrees_with_astropy_tdb(loaded, utc):
    from astropy.time import Time

    t = Time(utc, scale="utc")
    tdb_s = (t.tdb - Time("2000-01-01T12:00:00", scale="tdb")).to_value("s")
    assert sp.str2et(utc) == pytest.approx(tdb_s, abs=1e-4)  # SPICE's TDB model is good to ~30 µs


def test_io_orientation_and_synchronous_orbit(loaded):
    for et in np.linspace(sp.str2et(sc.START_UTC), sp.str2et(sc.STOP_UTC), 17):
        assert np.abs(sp.pxform("J2000", "IAU_IO", et) - eph.body_rotation(float(et))).max() < 1e-10
        jup = sp.spkpos("JUPITER", et, "IAU_IO", "NONE", "IO")[0]
        assert np.allclose(jup, [eph.IO_ORBIT_RADIUS_KM, 0.0, 0.0], atol=1e-3)  # 1 m: Jupiter at lon 0
        st = sp.spkezr("IO", et, "J2000", "NONE", "5")[0]
        # 1 cm / 1e-8 km/s: the double-precision floor of a 1.8e6° prime-meridian angle is ~2 mm
        assert np.allclose(st[:3], eph.io_state_j2000(float(et))[:3], atol=1e-5, rtol=0)
        assert np.allclose(st[3:], eph.io_state_j2000(float(et))[3:], atol=1e-8, rtol=0)
    # period = rotation period (synchronous)
    et = sp.str2et(sc.START_UTC)
    elts = sp.oscelt(sp.spkezr("IO", et, "J2000", "NONE", "5")[0], et, 1.26686534e8)
    assert elts[1] < 1e-3
    _, lon_e, _ = sp.reclat(sp.spkpos("JUPITER", et + 86400.0, "IAU_IO", "NONE", "IO")[0])
    assert abs(lon_e) < 1e-9


def test_pck_nutation_terms_present(loaded):
    assert list(sp.gdpool("BODY501_NUT_PREC_RA", 0, 4)) == [0.0, 0.0, 0.094, 0.024]
    assert list(sp.gdpool("BODY5_NUT_PREC_ANGLES", 0, 30)[4:6]) == [283.90, 4850.7]
    # with the nutation terms, IAU_IO differs from the plain precession model by up to ~0.1°
    et = sp.str2et(sc.T_FAR)
    plain = eph.PckBody(501, eph.IO_PCK.radii_km, eph.IO_PCK.pole_ra, eph.IO_PCK.pole_dec, eph.IO_PCK.pm)
    angle = math.degrees(
        math.acos((np.trace(plain.rotation(et).T @ sp.pxform("J2000", "IAU_IO", et)) - 1) / 2)
    )
    assert 0.01 < angle < 0.2


def test_heliocentric_kepler_orbits(loaded):
    et0 = sp.str2et(sc.START_UTC)
    for body, orbit in ((5, eph.JUPITER_ORBIT), (399, eph.EARTH_ORBIT)):
        for et in (et0, et0 + 40000.0):
            st = sp.spkezr(str(body), et, "J2000", "NONE", "SUN")[0]
            assert np.allclose(st[:3], orbit.state_j2000(et)[:3], atol=1e-3, rtol=0)
        ecl = sp.mxv(
            sp.pxform("J2000", "ECLIPJ2000", et0), sp.spkpos(str(body), et0, "J2000", "NONE", "SUN")[0]
        )
        elts = sp.oscltx(
            np.concatenate(
                [
                    ecl,
                    sp.mxv(
                        sp.pxform("J2000", "ECLIPJ2000", et0),
                        sp.spkezr(str(body), et0, "J2000", "NONE", "SUN")[0][3:],
                    ),
                ]
            ),
            et0,
            eph.GM_SUN_KM3_S2,
        )
        assert elts[9] / eph.AU_KM == pytest.approx(orbit.a_au, rel=1e-9)
        assert elts[1] == pytest.approx(orbit.e, abs=1e-9)
        assert math.degrees(elts[2]) == pytest.approx(orbit.i_deg, abs=1e-7)


def test_juno_state_and_pointing_are_the_planned_ones(loaded):
    for obs in sc.observations():
        et = sp.str2et(obs.time_utc)
        st = sp.spkezr("JUNO", et, "IAU_IO", "NONE", "IO")[0]
        assert np.allclose(st[:3], obs.observer_km, atol=1e-5)
        assert np.allclose(st[3:], obs.observer_velocity_km_s, atol=1e-8)
        assert np.abs(sp.pxform("JUNO_JIRAM_I", "IAU_IO", et) - obs.jiram_to_body).max() < 1e-10
        # the pointing stays fixed relative to Io within the CK interval (planned ±30 s)
        assert np.abs(sp.pxform("JUNO_JIRAM_I", "IAU_IO", et + 5.0) - obs.jiram_to_body).max() < 1e-9
    assert sp.sce2c(-61, sp.str2et(sc.T_FAR)) == pytest.approx(
        kn.et_to_sclk_ticks(sp.str2et(sc.T_FAR)), abs=1e-3
    )


def test_frames_kernel_is_nafs_and_the_planner_uses_its_chain(loaded):
    """The kernel set carries NAIF's frames kernel byte for byte (not an ioscan imitation), and the planner's
    analytic JIRAM rotations are SPICE's pxform through it."""
    from ioscan.instruments import jiram

    assert (loaded / kn.NAMES["fk"]).read_bytes() == jiram.naif_frames_kernel().read_bytes()
    et = sp.str2et(sc.T_FAR)
    assert np.abs(sp.pxform("JUNO_JIRAM_I", "JUNO_SPACECRAFT", et) - eph.JIRAM_I_IN_SPACECRAFT).max() < 1e-14
    for frame in ("JUNO_JIRAM_I_LBAND", "JUNO_JIRAM_I_MBAND"):
        assert np.abs(sp.pxform(frame, "JUNO_JIRAM_I", et) - eph.band_frame_in_jiram_i(frame)).max() < 1e-14


def test_point_at_io_puts_the_boresight_on_the_target(loaded):
    obs = next(o for o in sc.observations() if o.time_utc == sc.T_FAR)
    et = sp.str2et(obs.time_utc)
    centre = sp.spkpos("IO", et, "JUNO_JIRAM_I_MBAND", "NONE", "JUNO")[0]
    assert math.degrees(math.acos(centre[2] / np.linalg.norm(centre))) < 1e-8


def test_writer_rejects_bad_plans(tmp_path):
    from ioscan.errors import GeometryError

    obs = sc.observations()
    with pytest.raises(GeometryError, match="outside the kernel span"):
        kn.write_kernel_set(tmp_path, obs, start_utc="2024-02-03T18:00:00", stop_utc=sc.STOP_UTC)
    with pytest.raises(GeometryError, match="same time"):
        kn.write_kernel_set(tmp_path, [obs[0], obs[0]], start_utc=sc.START_UTC, stop_utc=sc.STOP_UTC)
    with pytest.raises(GeometryError, match="empty"):
        kn.write_kernel_set(tmp_path, [], start_utc=sc.STOP_UTC, stop_utc=sc.START_UTC)
