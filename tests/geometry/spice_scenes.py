"""Planned JIRAM observations of Io used by the SPICE-geometry tests (kernels written by ioscan itself)."""

from __future__ import annotations

import math

import numpy as np

from ioscan.simulate import ephemeris as eph

START_UTC, STOP_UTC = "2024-02-03T00:00:00", "2024-02-04T00:00:00"
T_CLOSE_LIMB = "2024-02-03T17:00:00"  # ~2,000 km from Io's centre, M band centred on the limb
T_CLOSE_NADIR = "2024-02-03T17:00:40"  # ~2,000 km, L band centred on Io's centre (all pixels on the disk)
T_FAR = "2024-02-03T18:30:00"  # 300,000 km, M band centred on Io (whole disk, L band sees part of it)
T_FAR_GAP = "2024-02-03T18:40:00"  # 250,000 km, JUNO_JIRAM_I centred on Io: each band sees part of the disk
T_INSIDE = "2024-02-03T19:00:00"  # observer inside the ellipsoid (bad input)
FAR_TWIST_DEG = 20.0


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def limb_target(observer_km: np.ndarray, radius_km: float = 1821.0) -> np.ndarray:
    """A point on the (mean-sphere) limb as seen from ``observer_km``."""
    o = np.asarray(observer_km, dtype=float)
    r = np.linalg.norm(o)
    back = -o / r
    e = _unit(np.cross(back, [0.0, 0.0, 1.0]))
    alpha = math.asin(radius_km / r)
    return o + math.sqrt(r * r - radius_km**2) * (math.cos(alpha) * back + math.sin(alpha) * e)


def observations() -> list[eph.PlannedObservation]:
    close = np.array([1200.0, -1500.0, 400.0])
    close2 = np.array([-300.0, 1900.0, -500.0])
    far = 300000.0 * _unit([0.3, -0.9, 0.2])
    v = np.array([-12.0, 20.0, 3.0])
    return [
        eph.PlannedObservation(
            T_CLOSE_LIMB,
            close,
            v,
            eph.point_at_io(close, 30.0, frame="JUNO_JIRAM_I_MBAND", target_km=limb_target(close)),
        ),
        eph.PlannedObservation(
            T_CLOSE_NADIR, close2, v, eph.point_at_io(close2, -60.0, frame="JUNO_JIRAM_I_LBAND")
        ),
        eph.PlannedObservation(
            T_FAR,
            far,
            np.array([5.0, 30.0, -10.0]),
            eph.point_at_io(far, FAR_TWIST_DEG, frame="JUNO_JIRAM_I_MBAND"),
        ),
        eph.PlannedObservation(
            T_FAR_GAP,
            0.83 * far,
            np.array([5.0, 30.0, -10.0]),
            eph.point_at_io(0.83 * far, 75.0, frame="JUNO_JIRAM_I"),
        ),
        eph.PlannedObservation(T_INSIDE, np.array([1000.0, 0.0, 0.0]), v, np.eye(3)),
    ]
