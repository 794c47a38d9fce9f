"""Property tests of Io's body conversions (ioscan.body) against definitions and SPICE's recpgr/pgrrec."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ellipe

from ioscan import body as iobody

IO = iobody.IO
lat_st = st.floats(-89.9, 89.9)
lon_st = st.floats(0.0, 359.999999)
# |lon| < ~1e-14 hits the wrap bug documented in test_west_longitude_of_tiny_east_longitude_is_zero
any_lon = st.floats(-1000.0, 1000.0).filter(lambda x: x == 0.0 or abs(x) > 1e-12)


@pytest.fixture(scope="module")
def io_pck(tmp_path_factory):
    import spiceypy as sp

    from ioscan.simulate.kernels import pck_text

    path = tmp_path_factory.mktemp("pck") / "io.tpc"
    path.write_text(pck_text())
    sp.furnsh(str(path))
    yield sp
    sp.unload(str(path))


@given(lat_st, lon_st)
def test_planetographic_planetocentric_round_trip(lat, lon):
    pc = iobody.lat_pg_to_lat_pc_deg(lat, lon)
    assert abs(pc) <= abs(lat) + 1e-12  # centric latitude is closer to the equator on an oblate body
    assert float(iobody.lat_pc_to_lat_pg_deg(pc, lon)) == pytest.approx(lat, abs=1e-9)


@given(any_lon)
def test_east_west_round_trip(lon):
    w = float(iobody.lon_e_to_lon_w(lon))
    assert 0.0 <= w < 360.0
    back = float(iobody.lon_w_to_lon_e(w))
    assert (back - lon) % 360.0 == pytest.approx(0.0, abs=1e-9) or (back - lon) % 360.0 == pytest.approx(
        360.0
    )
    assert (w + lon) % 360.0 == pytest.approx(0.0, abs=1e-9) or (w + lon) % 360.0 == pytest.approx(360.0)


def test_west_longitude_of_tiny_east_longitude_is_zero():
    assert float(iobody.lon_e_to_lon_w(1e-20)) == 0.0
    assert float(iobody.lon_w_to_lon_e(-1e-20)) < 360.0


@given(lat_st, lon_st, st.floats(-20.0, 20.0))
def test_recpgr_agreement(io_pck, lat, lon, alt):
    sp = io_pck
    f = IO.flattening
    # SPICE's planetographic point for Io (west longitude) at this altitude over the spheroid (a, c)
    p = sp.pgrrec("IO", math.radians(lon), math.radians(lat), alt, IO.a_km, f)
    assert float(iobody.vector_to_lat_pg_deg(p)) == pytest.approx(lat, abs=1e-9)
    assert (float(iobody.vector_to_lon_w_deg(p)) - lon + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-9)
    # and the triaxial surface point of a planetographic latitude has that recpgr latitude
    s = iobody.surface_point_from_lat_pg(lat, lon)
    lon_r, lat_r, _ = sp.recpgr("IO", s, IO.a_km, f)
    assert math.degrees(lat_r) == pytest.approx(lat, abs=1e-8)
    assert (math.degrees(lon_r) - lon + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-8)
    assert float(np.sum((s / IO.radii_km) ** 2)) == pytest.approx(1.0, abs=1e-13)


@given(lat_st, lon_st)
def test_surface_normal_is_unit_and_orthogonal_to_the_surface(lat, lon):
    p = iobody.surface_point_from_lat_pc(lat, lon)
    n = iobody.surface_normal(p)
    assert np.linalg.norm(n) == pytest.approx(1.0, abs=1e-14)
    assert n @ p > 0  # outward
    # two tangent directions obtained by moving along the surface are perpendicular to the normal
    for dlat, dlon in ((1e-5, 0.0), (0.0, 1e-5)):
        q = iobody.surface_point_from_lat_pc(lat + dlat, lon + dlon)
        t = (q - p) / np.linalg.norm(q - p)
        assert abs(n @ t) < 1e-5


@given(lat_st, lon_st)
def test_geodetic_latitude_is_the_normal_direction_on_the_spheroid(lat, lon):
    # on the spheroid (a, a, c) the planetographic latitude is the elevation of the surface normal
    a, c = IO.a_km, IO.c_km
    sph = iobody.Ellipsoid(a, a, c)
    p = iobody.surface_point_from_lat_pg(lat, lon, sph)
    n = iobody.surface_normal(p, sph)
    assert math.degrees(math.asin(n[2])) == pytest.approx(lat, abs=1e-8)


def test_quarter_meridians_equal_elliptic_integrals():
    # lon 0 meridian: ellipse with semi-axes a (x) and c (z); lon 90°W: b (y) and c
    for lon_w, semi_major in ((0.0, IO.a_km), (90.0, IO.b_km)):
        m = 1.0 - (IO.c_km / semi_major) ** 2
        exact = semi_major * ellipe(m)
        got = iobody.ellipsoid_surface_distance_km(0.0, lon_w, 90.0, lon_w, n_steps=4096)
        assert got == pytest.approx(exact, rel=1e-7)
    # equator quarter between the a and b axes
    exact = IO.a_km * ellipe(1.0 - (IO.b_km / IO.a_km) ** 2)
    assert iobody.ellipsoid_surface_distance_km(0.0, 0.0, 0.0, 90.0, n_steps=4096) == pytest.approx(
        exact, rel=1e-7
    )


def test_mean_sphere_distances():
    quarter = math.pi / 2 * iobody.IO_MEAN_RADIUS_KM
    assert float(iobody.great_circle_distance_km(0, 0, 0, 90)) == pytest.approx(quarter)
    assert float(iobody.great_circle_distance_km(-90, 10, 90, 250)) == pytest.approx(2 * quarter)
    assert float(iobody.great_circle_distance_km(12, 350, 12, 350)) == 0.0


@given(lat_st, lon_st, lat_st, lon_st)
def test_angular_separation_symmetry_and_bounds(lat1, lon1, lat2, lon2):
    a = float(iobody.angular_separation_deg(lat1, lon1, lat2, lon2))
    assert 0.0 <= a <= 180.0
    assert a == pytest.approx(float(iobody.angular_separation_deg(lat2, lon2, lat1, lon1)), abs=1e-9)
    u = iobody.direction_from_lat_pc_lon_w(lat1, lon1)
    v = iobody.direction_from_lat_pc_lon_w(lat2, lon2)
    assert a == pytest.approx(math.degrees(math.atan2(np.linalg.norm(np.cross(u, v)), u @ v)), abs=1e-9)
