"""The flags as plain ints (:mod:`ioscan.detect.flags`) in the vetting loops: the same bits, the same
decisions as with :class:`~ioscan.records.DetectionFlag` members."""

from __future__ import annotations

import copy

import numpy as np

from ioscan.detect import flags as fl
from ioscan.detect.artefacts import (
    flag_edge_misfit_chi2,
    flag_edge_unconfirmed,
    flag_limb_ridges,
    flag_unconfirmed,
    flag_unresolved_splits,
)
from ioscan.records import Detection, DetectionFlag

F = DetectionFlag
#: flags the detections are drawn with: most left to the tests, some skipped by them
KINDS = [0, 0, 4, 4, 2, 6, 16, 20, 1, 8, 128, 4 | 128]


def test_the_int_masks_are_the_flags_bits():
    assert F.SATURATED.value == fl.SATURATED_BIT and type(fl.SATURATED_BIT) is int
    assert F.ARTEFACT.value == fl.ARTEFACT_BIT and F.EDGE.value == fl.EDGE_BIT
    assert (F.ARTEFACT | F.COSMIC_RAY | F.SATURATED).value == fl.VETTED_OR_SATURATED
    assert (F.ARTEFACT | F.COSMIC_RAY).value == fl.ARTEFACT_OR_HIT
    for v in range(512):  # every combination of the 9 flags: the int test decides as the Flag test
        assert bool(v & fl.VETTED_OR_SATURATED) == bool(F(v) & (F.ARTEFACT | F.COSMIC_RAY | F.SATURATED))
        assert bool(v & fl.ARTEFACT_OR_HIT) == bool(F(v) & (F.ARTEFACT | F.COSMIC_RAY))


def _detections(rng: np.random.Generator, n: int) -> list[Detection]:
    out = []
    for _ in range(n):
        out.append(
            Detection(
                band="M", sample=float(rng.uniform(0, 20)), line=float(rng.uniform(0, 20)), sample_err_px=0.1,
                line_err_px=0.1, snr=float(rng.uniform(-1, 8)), net_radiance_sum=1.0,
                net_radiance_sum_err=0.1, unit="W m-2 sr-1", background=0.0, peak=1.0, n_pixels=9,
                flags=int(rng.choice(KINDS)),
                extra={"mf_snr": float(rng.uniform(4, 60)), "chi2_dof": float(rng.uniform(0, 30))},
            )
        )  # fmt: skip
    return out


def test_the_vetting_flags_what_it_flagged_with_flag_members():
    """The tests run on detections whose flags are ints and on the same detections whose flags are
    DetectionFlag members (what a caller may hand in): the same flags set, the same tests named."""
    rng = np.random.default_rng(3)
    dets = _detections(rng, 60)
    members = copy.deepcopy(dets)
    for d in members:
        d.flags = F(d.flags)
    zone = [bool(z) for z in rng.integers(0, 2, len(dets))]
    gains = [float(g) for g in rng.uniform(0, 2, len(dets))]
    for batch in (dets, members):
        counts = (
            flag_unconfirmed(batch),
            flag_edge_unconfirmed(batch, 0.6),
            flag_limb_ridges(batch, zone, 3.0, gains, 1.0, 0.3),
            flag_edge_misfit_chi2(batch),
            flag_unresolved_splits(batch, 0.8),
        )
        if batch is dets:
            first = counts
    assert counts == first and sum(counts) > 5
    assert [int(d.flags) for d in dets] == [int(d.flags) for d in members]
    assert [d.extra.get("artefact_test") for d in dets] == [d.extra.get("artefact_test") for d in members]
    assert all(type(d.flags) is int for d in dets)  # ints stay ints (the catalogue's column)


def _spike_ratio_numpy(data: np.ndarray, i: int, j: int) -> float:
    """spike_ratio as numpy's scalars wrote it (np.unravel_index, np.isfinite per neighbour)."""
    nl, ns = data.shape
    win = np.nan_to_num(data[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3], nan=-np.inf)
    a, b = np.unravel_index(int(np.argmax(win)), win.shape)
    ci, cj = max(i - 2, 0) + a, max(j - 2, 0) + b
    nb = sorted(
        float(data[y, x])
        for y, x in ((ci - 1, cj), (ci + 1, cj), (ci, cj - 1), (ci, cj + 1))
        if 0 <= y < nl and 0 <= x < ns and np.isfinite(data[y, x])
    )
    if len(nb) < 2 or nb[-2] <= 0:
        return 0.0
    return float(data[ci, cj]) / nb[-2]


def test_spike_ratio_is_numpys_form():
    rng = np.random.default_rng(9)
    data = rng.normal(5.0, 3.0, (16, 18)).astype(np.float32)
    data[rng.random(data.shape) < 0.15] = np.nan
    data[4, 7], data[9, 9] = 400.0, np.float32(np.inf)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            assert fl.spike_ratio(data, i, j) == _spike_ratio_numpy(data, i, j), (i, j)


def test_hit_shape_tests_compiled_are_numpys():
    """The cosmic-ray shape tests compiled (n_bright_pixels on float32 maps, spike_ratio): numpy's values on
    random float32 images with NaN, ±inf, ties and negative values, at every pixel of a crop, its edges
    included, and with float64 images (numpy's own path or the kernel's float64 form)."""
    import numpy as np

    from ioscan.detect.flags import n_bright_pixels, n_bright_pixels_numpy, spike_ratio, spike_ratio_numpy

    rng = np.random.default_rng(12)
    for t in range(30):
        data = (rng.normal(10.0, 5.0, size=(30, 40)) * rng.choice([1.0, 50.0], size=(30, 40))).astype(
            np.float32
        )
        data[rng.random(data.shape) < 0.05] = np.nan
        if t % 3 == 0:
            data[rng.random(data.shape) < 0.02] = np.inf
            data[rng.random(data.shape) < 0.02] = -np.inf
        if t % 4 == 0:
            data = np.round(data)  # ties
        l0, s0 = int(rng.integers(0, 6)), int(rng.integers(0, 6))
        nl, ns = int(rng.integers(8, 30 - l0 + 1)), int(rng.integers(8, 40 - s0 + 1))
        bg = rng.normal(10.0, 2.0, size=(nl, ns)).astype(np.float32)
        noise = rng.uniform(0.5, 3.0, size=(nl, ns)).astype(np.float32)
        noise[rng.random(noise.shape) < 0.03] = np.nan
        for i in range(nl):
            for j in range(ns):
                args = (data, bg, noise, i, j, l0, s0)
                try:
                    want = n_bright_pixels_numpy(*args)
                except ValueError:  # (a window the crop cuts short against the image's: numpy's own error)
                    continue
                assert n_bright_pixels(*args) == want, (t, i, j)
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                for img in (data, data.astype(np.float64)):
                    a, b = spike_ratio(img, i, j), spike_ratio_numpy(img, i, j)
                    assert a == b or (np.isnan(a) and np.isnan(b)), (t, i, j)
