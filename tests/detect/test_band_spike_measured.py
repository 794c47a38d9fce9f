"""detect.band's second cosmic-ray spike test with the core measured on the frame
(``detect.spike_measured_core``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ioscan.detect import DetectConfig, band
from ioscan.detect.psf import PsfModel
from ioscan.records import DetectionFlag

MODEL = PsfModel((0.9, 0.1), (0.6, 2.5))  # JIRAM's model core
WIDE = PsfModel((0.9, 0.1), (0.8, 2.5))  # the renderer's wider true core, measured on the frame


def _field(seed: int = 3, n: int = 48):
    """White noise (σ 1) with ``n`` faint true sources of the wide core (S/N 6–8) and ``n`` two-pixel hits
    (4–5 σ a pixel), on a 12-px grid; their positions and which is which."""
    rng = np.random.default_rng(seed)
    side = 12 * int(np.ceil(np.sqrt(2 * n))) + 12
    img = rng.normal(0.0, 1.0, (side, side))
    xs, ys, hit = [], [], []
    cells = [(6 + 12 * i, 6 + 12 * j) for i in range((side - 12) // 12) for j in range((side - 12) // 12)]
    for k, (cy, cx) in enumerate(cells[: 2 * n]):
        if k % 2 == 0:  # a true source at a random sub-pixel position
            x, y = cx + rng.uniform(-0.5, 0.5), cy + rng.uniform(-0.5, 0.5)
            sj, li = np.meshgrid(np.arange(cx - 6, cx + 6), np.arange(cy - 6, cy + 6))
            p, _, _ = WIDE.stamps(sj.astype(float), li.astype(float), np.array([x]), np.array([y]))
            p = p.reshape(sj.shape)
            img[cy - 6 : cy + 6, cx - 6 : cx + 6] += rng.uniform(6, 8) / np.sqrt(np.sum(p**2)) * p
            xs.append(x), ys.append(y), hit.append(False)
        else:  # a hit: two adjacent pixels
            a = rng.uniform(4.0, 5.0, 2)
            img[cy, cx] += a[0]
            img[cy, cx + 1] += a[1]
            xs.append(cx + a[1] / a.sum()), ys.append(float(cy)), hit.append(True)
    model = SimpleNamespace(residuals=[img], noise=np.ones_like(img), usable=np.ones(img.shape, bool))
    fit = SimpleNamespace(x=np.array(xs), y=np.array(ys))
    return model, fit, np.array(hit)


def _flagged(core: PsfModel, model, fit) -> np.ndarray:
    dets = [SimpleNamespace(flags=DetectionFlag(0), extra={}) for _ in fit.x]
    n = band._spike_test_measured_core(dets, np.arange(len(dets)), model, fit, core, DetectConfig())
    flagged = np.array([bool(d.flags & DetectionFlag.COSMIC_RAY) for d in dets])
    assert n == flagged.sum()
    assert all("spike_dchi2_measured" in d.extra for d in dets)
    return flagged


def test_the_measured_core_flags_faint_hits_the_model_core_passes():
    """Against the truth of the field: with the true (wider) core the test flags most two-pixel hits and
    few true sources; with the model's narrower core, which a faint hit resembles, it flags fewer hits."""
    model, fit, hit = _field()
    wide = _flagged(WIDE, model, fit)
    narrow = _flagged(MODEL, model, fit)
    assert wide[hit].mean() >= 0.5
    assert wide[hit].mean() > narrow[hit].mean() + 0.2
    assert wide[~hit].mean() <= 0.1


def test_saturated_and_already_flagged_detections_are_not_counted():
    model, fit, hit = _field(n=4)
    dets = [SimpleNamespace(flags=DetectionFlag.SATURATED if h else DetectionFlag(0), extra={}) for h in hit]
    n = band._spike_test_measured_core(dets, np.arange(len(dets)), model, fit, WIDE, DetectConfig())
    assert n == 0
    assert not any(d.flags & DetectionFlag.COSMIC_RAY for d in dets)


def test_off_by_default():
    assert DetectConfig().spike_measured_core is False
