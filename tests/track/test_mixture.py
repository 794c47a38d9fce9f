"""Merges under the Student-t mixture: fragments of one site merge, separated sites and sources seen at once
do not, hot spots from a previous run never merge together, far tails join only when plausible."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.track import synthetic as sy
from ioscan.track._common import local_north_east
from ioscan.track.mixture import Clusters, MixtureConfig, estimate_alpha, merge_hotspots

SIGMA_KM = 20.0


def _cluster(rng, centre, n, sigma_km=SIGMA_KM):
    g = rng.normal(size=(n, 2)) * sigma_km
    return sy.offset(np.repeat(centre[None], n, axis=0), g[:, 0], g[:, 1])


def _merge(u, labels, frames=None, fixed=(), sigma_km=SIGMA_KM, cfg=None):
    """merge_hotspots on detections ``u`` grouped by ``labels``: the merged label of every detection."""
    n, m = len(u), int(labels.max()) + 1
    var = np.full(n, sigma_km**2)
    w = 1.0 / var
    vec = np.stack([np.bincount(labels, weights=w * u[:, c], minlength=m) for c in range(3)], axis=1)
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[list(fixed)] = True
    sw, count = np.bincount(labels, weights=w, minlength=m), np.bincount(labels, minlength=m)
    cl = Clusters(vec, sw, count, is_fixed)
    north, east = local_north_east(u)
    frames = np.full(n, -1, dtype=np.int64) if frames is None else frames
    target = merge_hotspots(cl, u, north, east, var, var, labels, frames, cfg or MixtureConfig(alpha=5.0))
    return target[labels]


def _background(rng, n_sites=30, per=12):
    """Well separated busy sites, so that the pair under test is not alone (and α is meaningful)."""
    centres = sy.random_directions(n_sites, rng)
    return [_cluster(rng, c, per) for c in centres]


def test_fragments_of_one_site_merge():
    rng = np.random.default_rng(1)
    site = _cluster(rng, sy.random_directions(1, rng)[0], 20)
    labels = (rng.random(20) < 0.5).astype(np.int64)  # a random split in two
    out = _merge(site, labels)
    assert len(set(out)) == 1


@pytest.mark.parametrize(("sep_sigma", "merged"), [(6.0, False), (0.5, True)])
def test_two_sites_apart_or_together(sep_sigma, merged):
    rng = np.random.default_rng(2)
    c = sy.random_directions(1, rng)[0]
    c2 = sy.offset(c[None], np.array([sep_sigma * SIGMA_KM]), np.array([0.0]))[0]
    u = np.vstack([_cluster(rng, c, 10), _cluster(rng, c2, 10)])
    labels = np.repeat([0, 1], 10)
    out = _merge(u, labels)
    assert (len(set(out)) == 1) == merged


def test_sources_seen_in_one_frame_never_merge():
    rng = np.random.default_rng(3)
    c = sy.random_directions(1, rng)[0]
    u = np.vstack([_cluster(rng, c, 10), _cluster(rng, c, 10)])  # same place
    labels = np.repeat([0, 1], 10)
    frames = np.full(20, -1, dtype=np.int64)
    frames[[0, 10]] = 7  # one detection of each in frame 7
    assert len(set(_merge(u, labels, frames))) == 2
    assert len(set(_merge(u, labels))) == 1


def test_previous_hot_spots_never_merge_together():
    rng = np.random.default_rng(4)
    c = sy.random_directions(1, rng)[0]
    u = np.vstack([_cluster(rng, c, 10), _cluster(rng, c, 10), _cluster(rng, c, 3)])
    labels = np.repeat([0, 1, 2], [10, 10, 3])
    out = _merge(u, labels, fixed=(0, 1))
    assert out[0] != out[10]  # the two stored hot spots stay
    assert out[-1] in (out[0], out[10])  # the new fragment joins one of them


@pytest.mark.parametrize(("dist_sigma", "joins"), [(3.5, True), (20.0, False)])
def test_a_tail_joins_a_busy_site_only_when_plausible(dist_sigma, joins):
    rng = np.random.default_rng(5)
    parts = _background(rng)
    busy = parts[0]
    centre = busy.mean(axis=0) / np.linalg.norm(busy.mean(axis=0))
    tail = sy.offset(centre[None], np.array([dist_sigma * SIGMA_KM]), np.array([0.0]))
    u = np.vstack([*parts, tail])
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)] + [[len(parts)]])
    labels = labels.astype(np.int64)
    out = _merge(u, labels, cfg=MixtureConfig())
    assert (out[-1] == out[0]) == joins
    assert len(set(out[:-1])) == len(parts)  # the busy sites themselves stay apart


def test_alpha_estimate():
    assert estimate_alpha(75, 1000) == pytest.approx(20.0, rel=0.15)
    a = estimate_alpha(190, 350)
    assert a * np.log1p(350 / a) == pytest.approx(190, rel=1e-6)
