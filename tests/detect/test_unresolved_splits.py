"""Detections closer than 2 core σ to a brighter one are flagged as its split
(:func:`ioscan.detect.artefacts.flag_unresolved_splits`): two Gaussian cores that close add to a single peak
whatever their flux ratio, so no image resolves them; pairs further apart are kept."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.artefacts import flag_unresolved_splits
from ioscan.records import Detection, DetectionFlag

SIGMA_PX = 0.6


def _det(sample: float, line: float, mf_snr: float, flags: int = 0) -> Detection:
    return Detection(
        "M", sample, line, 0.1, 0.1, mf_snr, mf_snr, 1.0, "W m-2 sr-1", 0.0, 1.0, 5, flags,
        extra={"mf_snr": mf_snr},
    )  # fmt: skip


def _n_peaks(separation_sigma: float, flux_ratio: float) -> int:
    """Local maxima of two 1-D Gaussian cores of unit σ ``separation_sigma`` apart, the second
    ``flux_ratio`` × the first, sampled finely along the line through both."""
    x = np.linspace(-6.0, 6.0 + separation_sigma, 24001)
    f = np.exp(-(x**2) / 2) + flux_ratio * np.exp(-((x - separation_sigma) ** 2) / 2)
    return int(np.sum((f[1:-1] > f[:-2]) & (f[1:-1] > f[2:])))


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1, 0.02])
def test_cores_closer_than_two_sigma_make_one_peak(ratio: float) -> None:
    # the premise of the test: below 2σ apart one peak for every flux ratio...
    assert all(_n_peaks(s, ratio) == 1 for s in np.arange(0.1, 2.0, 0.1))
    # ...while equal cores 2.5σ apart show two
    assert _n_peaks(2.5, 1.0) == 2


def test_a_split_within_two_sigma_is_flagged_a_resolved_pair_is_kept() -> None:
    source = _det(100.0, 50.0, 106.0)
    split = _det(100.6, 50.5, 93.0)  # 0.78 px = 1.3 σ: the fits' second piece of the same source
    pair = _det(100.0, 52.0, 20.0)  # 2 px = 3.3 σ from the source (and 1.6 px = 2.7 σ from the split)
    far = _det(300.0, 20.0, 8.0)
    dets = [split, source, pair, far]
    assert flag_unresolved_splits(dets, SIGMA_PX) == 1
    assert split.flags & DetectionFlag.ARTEFACT and split.extra["artefact_test"] == "unresolved_split"
    assert not (source.flags | pair.flags | far.flags) & DetectionFlag.ARTEFACT
    # with a wider core (σ 1.1 px: 2σ = 2.2 px) the pair is no longer resolved either
    dets = [_det(d.sample, d.line, d.extra["mf_snr"]) for d in (split, source, pair, far)]
    assert flag_unresolved_splits(dets, 1.1) == 2


def test_flagged_detections_neither_flagged_nor_counted() -> None:
    hit = _det(100.0, 50.0, 300.0, int(DetectionFlag.COSMIC_RAY))
    misfit = _det(100.5, 50.0, 200.0, int(DetectionFlag.ARTEFACT))
    source = _det(100.9, 50.3, 40.0)  # beside a hit and a misfit only: kept
    assert flag_unresolved_splits([hit, misfit, source], SIGMA_PX) == 0
    assert source.flags == 0 and misfit.extra.get("artefact_test") is None
    # a chain: the middle one is the bright one's split and no longer counts for the faintest (1.6 px away)
    chain = [_det(100.0, 50.0, 50.0), _det(100.8, 50.0, 30.0), _det(101.6, 50.0, 10.0)]
    assert flag_unresolved_splits(chain, SIGMA_PX) == 1
    assert [bool(d.flags & DetectionFlag.ARTEFACT) for d in chain] == [False, True, False]


def _reference_splits(detections: list[Detection], psf_sigma_px: float) -> list[bool]:
    """The test as first written: each detection, brightest first, against every one kept so far (the
    distances made anew per detection); which are flagged."""
    keep = [d for d in detections if not d.flags & (DetectionFlag.ARTEFACT | DetectionFlag.COSMIC_RAY)]
    flagged = [False] * len(detections)
    if len(keep) < 2:
        return flagged
    xy = np.array([[d.sample, d.line] for d in keep], float)
    snr = np.array([d.extra["mf_snr"] for d in keep])
    kept = np.ones(len(keep), bool)
    for i in np.argsort(-snr):
        if np.any(kept & (snr > snr[i]) & (np.hypot(*(xy - xy[i]).T) < 2.0 * psf_sigma_px)):
            kept[i] = False
            flagged[next(k for k, d in enumerate(detections) if d is keep[i])] = True
    return flagged


@pytest.mark.parametrize("seed", range(6))
def test_crowded_clusters_flag_as_the_reference(seed: int) -> None:
    # chains and clumps within a few σ (ties of S/N, NaN positions and flagged members included): the
    # distances made once for all pairs flag exactly the detections the per-detection loop flagged
    rng = np.random.default_rng(seed)
    n = 40
    xy = rng.uniform(0.0, 6.0, (n, 2))
    xy[rng.random(n) < 0.05] = np.nan
    snr = np.round(rng.uniform(5.0, 30.0, n), 0)  # rounded: ties
    flags = np.where(rng.random(n) < 0.1, int(DetectionFlag.COSMIC_RAY), 0)
    dets = [_det(float(x), float(y), float(s), int(f)) for (x, y), s, f in zip(xy, snr, flags, strict=True)]
    want = _reference_splits(dets, SIGMA_PX)
    assert sum(want) >= 5  # crowded enough to test the order
    assert flag_unresolved_splits(dets, SIGMA_PX) == sum(want)
    assert [
        bool(d.flags & DetectionFlag.ARTEFACT) and not f for d, f in zip(dets, flags, strict=True)
    ] == want
