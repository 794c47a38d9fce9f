"""Per-night rotations are found from repeat detections and removed; data without them are left alone."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.track import synthetic as sy
from ioscan.track.night_offsets import NightOffsetConfig, correct_positions, fit_tau2, normal_equations

R_KM = 1821.49


def _nights(rng, *, tau_deg, sigma_km=30.0, n_sites=40, n_nights=80, per_night=8):
    """Each night sees ``per_night`` random sites, all rotated by the night's ω ~ N(0, τ²) per axis, plus
    independent errors of ``sigma_km``. Returns raw positions, true positions, site and night labels, ω."""
    u_site = sy.random_directions(n_sites, rng)
    night = np.repeat(np.arange(n_nights), per_night)
    site = np.concatenate([rng.permutation(n_sites)[:per_night] for _ in range(n_nights)])
    omega = rng.normal(0.0, np.radians(tau_deg), (n_nights, 3))
    u_true = u_site[site]
    shifted = u_true + np.cross(omega[night], u_true)
    shifted /= np.linalg.norm(shifted, axis=1, keepdims=True)
    g = rng.normal(size=(len(site), 2)) * sigma_km
    return sy.offset(shifted, g[:, 0], g[:, 1]), u_true, site, night, omega


def _rms_km(u, v) -> float:
    return float(np.sqrt(np.mean(np.sum((u - v) ** 2, axis=1))) * R_KM)


def test_offsets_are_found_and_removed():
    rng = np.random.default_rng(1)
    u, u_true, site, night, _ = _nights(rng, tau_deg=1.5)
    var = np.full(len(u), 30.0**2)
    cat = np.zeros(len(u), dtype=np.int64)
    now = u
    for _ in range(3):  # as in associate: centroids from the corrected positions of the previous pass
        res = correct_positions(u, now, site, night, cat, var)
        now = res.u
    assert res.tau_deg[0] == pytest.approx(1.5, rel=0.3)
    before, after = _rms_km(u, u_true), _rms_km(res.u, u_true)
    noise2 = 2 * 30.0**2  # the independent errors, which stay
    assert after**2 - noise2 < 0.2 * (before**2 - noise2)  # ≥ 80 % of the nights' offsets removed


def test_no_offsets_no_change():
    rng = np.random.default_rng(2)
    u, u_true, site, night, _ = _nights(rng, tau_deg=0.0)
    res = correct_positions(u, u, site, night, np.zeros(len(u), dtype=np.int64), np.full(len(u), 900.0))
    assert res.tau_deg[0] < 0.1
    assert np.max(np.linalg.norm(res.u - u, axis=1)) * R_KM < 3.0  # well under the 30 km errors


def test_too_few_nights_no_change():
    rng = np.random.default_rng(3)
    u, _, site, night, _ = _nights(rng, tau_deg=2.0, n_nights=4)
    res = correct_positions(u, u, site, night, np.zeros(len(u), dtype=np.int64), np.full(len(u), 900.0))
    assert res.tau_deg[0] == 0.0 and np.array_equal(res.u, u)


def test_evidence_prefers_the_true_tau():
    rng = np.random.default_rng(4)
    u, u_true, site, night, _ = _nights(rng, tau_deg=1.0, sigma_km=20.0)
    # residuals about the true positions: the evidence peaks near the injected spread
    r = u - u_true
    r -= np.einsum("ij,ij->i", r, u)[:, None] * u
    w = np.full(len(u), R_KM**2 / 20.0**2)
    _, _, m, b, _ = normal_equations(u, r, w, night, int(night.max()) + 1)
    tau = np.degrees(np.sqrt(fit_tau2(m, b, NightOffsetConfig())))
    assert tau == pytest.approx(1.0, rel=0.25)
