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
