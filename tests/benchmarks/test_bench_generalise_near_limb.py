"""``bench_generalise.py --near-limb``'s residual-shape features (:func:`near_limb_features`) on a
straight synthetic limb: a sub-pixel shift of the limb's step (what a misplaced limb profile leaves) is
explained by the background's derivative across the limb, a point source is not."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import ndtr

from ioscan.detect.psf import PsfModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_generalise as bench  # noqa: E402

SHAPE = (40, 40)
LIMB_SAMPLE = 20.0
STEP_SIGMA = 50.0  # the limb's step, white-noise σ


def _limb_step(shift_px: float) -> np.ndarray:
    """A vertical limb at sample LIMB_SAMPLE + shift (disk at larger samples), blurred by σ 0.8 px."""
    x = np.arange(SHAPE[1], dtype=float)[None, :]
    return np.broadcast_to(STEP_SIGMA * ndtr((x - LIMB_SAMPLE - shift_px) / 0.8), SHAPE).copy()


def _features(data: np.ndarray, line: float, sample: float) -> dict:
    background = _limb_step(0.0)
    model = SimpleNamespace(
        background=background,
        sigma_white=np.ones(SHAPE),
        usable=np.ones(SHAPE, bool),
        limb_distance_px=np.broadcast_to(np.arange(SHAPE[1], dtype=float) - LIMB_SAMPLE, SHAPE).copy(),
    )
    det = SimpleNamespace(line=line, sample=sample)
    return bench.near_limb_features(data, model, (0, 0), 0, PsfModel.gaussian(0.8), det)


def test_a_shifted_limb_step_is_explained_by_the_shift_term():
    """The residual of a step moved 0.3 px outwards is the step's derivative: with that term fitted the
    PSF keeps almost none of its S/N, and the residual is longer along the limb than across it."""
    noise = np.random.default_rng(1).normal(0.0, 1.0, SHAPE)
    f = _features(_limb_step(-0.3) + noise, 20.0, LIMB_SAMPLE)
    assert f["stamp_snr"] > 5.0
    assert f["shift_snr_ratio"] < 0.3
    assert f["along_across_extent"] > 1.3


def test_a_point_source_beside_the_limb_keeps_its_snr():
    """A point source of S/N ~20 a few px inside the limb: the shift term takes < 10 % of its S/N and its
    residual is round."""
    data = _limb_step(0.0) + np.random.default_rng(2).normal(0.0, 1.0, SHAPE)
    psf = PsfModel.gaussian(0.8)
    ys, xs = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    p = psf.stamp_values(xs[None, :1, :], ys[None, :, :1], np.array([23.2]), np.array([20.1]))[0]
    data += 60.0 * p
    f = _features(data, 20.1, 23.2)
    assert f["shift_snr_ratio"] == pytest.approx(1.0, abs=0.1)
    assert 0.7 < f["along_across_extent"] < 1.4


def test_no_limb_distance_gives_nan():
    """Without a limb distance map the features are NaN (nothing to measure the limb's direction on)."""
    model = SimpleNamespace(
        background=np.zeros(SHAPE),
        sigma_white=np.ones(SHAPE),
        usable=np.ones(SHAPE, bool),
        limb_distance_px=None,
    )
    f = bench.near_limb_features(
        np.zeros(SHAPE), model, (0, 0), 0, PsfModel.gaussian(0.8), SimpleNamespace(line=20.0, sample=20.0)
    )
    assert all(np.isnan(v) for v in f.values())
