"""The second pass makes its background only where the first pass's maps leave something to find
(:func:`ioscan.detect.second_pass.something_left`): bright hot spots alone cost no second background and
give the same detections; faint neighbours beside them still do."""

from __future__ import annotations

import numpy as np
import pytest
from test_detect import _frame, _sources  # same directory: pytest puts it on sys.path
from test_second_pass import JIRAM_PSF, _norm

from ioscan.detect import DetectConfig, detect_frame, second_pass

SHAPE = (128, 432)


def _scene(seed: int, neighbours: bool) -> np.ndarray:
    """Four bright hot spots (S/N 300–3,000) on white noise σ = 1, each with a faint neighbour (S/N 10–20,
    3–6 px away) when ``neighbours``."""
    rng = np.random.default_rng(seed)
    bx, by = np.array([60.0, 170.0, 280.0, 390.0]) + rng.uniform(-2, 2, 4), 64.0 + rng.uniform(-2, 2, 4)
    bf = 10 ** rng.uniform(np.log10(300), np.log10(3000), 4) / _norm(JIRAM_PSF)
    xs, ys, fs = list(bx), list(by), list(bf)
    if neighbours:
        sep, ang = rng.uniform(3, 6, 4), rng.uniform(0, 2 * np.pi, 4)
        xs += list(bx + sep * np.cos(ang))
        ys += list(by + sep * np.sin(ang))
        fs += list(rng.uniform(10, 20, 4) / _norm(JIRAM_PSF))
    return 5.0 + _sources(SHAPE, xs, ys, fs, psf=JIRAM_PSF) + rng.normal(0, 1, SHAPE)


def _counting(monkeypatch) -> list:
    calls = []
    made = second_pass.second_background

    def counted(*args, **kwargs):
        calls.append(1)
        return made(*args, **kwargs)

    monkeypatch.setattr(second_pass, "second_background", counted)
    return calls


def _positions(res) -> list:
    return [repr(d) for d in res.detections]  # (every field; NaN reads as nan)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bright_hot_spots_alone_make_no_second_background_and_the_same_detections(monkeypatch, seed):
    img = _scene(seed, neighbours=False)
    calls = _counting(monkeypatch)
    gated = detect_frame(_frame(img), config=DetectConfig())
    assert not calls
    monkeypatch.setattr(second_pass, "something_left", lambda *a, **k: True)
    full = detect_frame(_frame(img), config=DetectConfig())
    assert calls  # without the gate the background is made, and finds nothing more
    assert _positions(gated) == _positions(full)
    assert len(gated.detections) == 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_faint_neighbours_still_get_the_second_background(monkeypatch, seed):
    img = _scene(seed, neighbours=True)
    calls = _counting(monkeypatch)
    res = detect_frame(_frame(img), config=DetectConfig())
    assert calls
    assert len(res.detections) >= 7  # (the four bright ones and at least three of their four neighbours)
