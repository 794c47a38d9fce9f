"""Faint peaks in a bright source's streak or PSF-wing ring are flagged; real neighbours are not."""

from __future__ import annotations

from ioscan.detect.artefacts import flag_bright_source_artefacts, flag_limb_ridges, flag_unconfirmed
from ioscan.records import Detection, DetectionFlag


def _det(sample, line, flux, snr, flags=0):
    return Detection("M", sample, line, 0.1, 0.1, snr, flux, flux / snr, "W m-2 sr-1", 0.0, flux, 5, flags)


def test_streak_and_ring_peaks_of_a_saturated_source_are_flagged():
    bright = _det(200.0, 60.0, 100.0, 5000.0, int(DetectionFlag.SATURATED))
    streak = _det(200.8, 110.0, 0.5, 8.0)  # same column, 50 lines away
    ring = _det(207.0, 63.0, 0.3, 6.0)  # 7.6 px away
    far = _det(300.0, 20.0, 0.3, 6.0)  # elsewhere: a real hot spot
    bright_neighbour = _det(205.0, 64.0, 20.0, 900.0)  # 20 % of the flux: a real neighbour
    dets = [bright, streak, ring, far, bright_neighbour]
    n = flag_bright_source_artefacts(dets, 0.6, column_streaks=True, ring_radius_px=10.0)
    assert n == 2
    assert streak.flags & DetectionFlag.ARTEFACT and ring.flags & DetectionFlag.ARTEFACT
    assert not (far.flags | bright.flags | bright_neighbour.flags) & DetectionFlag.ARTEFACT


def test_no_streak_test_without_column_reflections():
    bright = _det(200.0, 60.0, 100.0, 5000.0, int(DetectionFlag.SATURATED))
    streak = _det(200.5, 110.0, 0.5, 8.0)
    assert flag_bright_source_artefacts([bright, streak], 3.3, column_streaks=False) == 0


def test_fragments_of_one_saturated_core_are_flagged():
    core = _det(200.0, 60.0, 100.0, 5000.0, int(DetectionFlag.SATURATED))
    piece = _det(203.0, 61.0, 40.0, 3000.0, int(DetectionFlag.SATURATED | DetectionFlag.BLENDED))
    other = _det(240.0, 61.0, 60.0, 3000.0, int(DetectionFlag.SATURATED))  # a separate saturated hot spot
    dets = [core, piece, other]
    assert flag_bright_source_artefacts(dets, 0.6, column_streaks=True, ring_radius_px=10.0) == 1
    assert piece.flags & DetectionFlag.ARTEFACT and not other.flags & DetectionFlag.ARTEFACT


def test_cosmic_ray_hits_flag_nothing_around_them():
    hit = _det(200.0, 60.0, 100.0, 5000.0, int(DetectionFlag.COSMIC_RAY))
    in_column = _det(200.5, 110.0, 0.5, 8.0)  # a real hot spot that happens to share the hit's column
    nearby = _det(205.0, 63.0, 0.3, 6.0)
    assert (
        flag_bright_source_artefacts([hit, in_column, nearby], 0.6, column_streaks=True, ring_radius_px=10)
        == 0
    )
    assert not (in_column.flags | nearby.flags) & DetectionFlag.ARTEFACT


def test_peaks_the_psf_fit_does_not_confirm_are_flagged():
    confirmed = _det(100.0, 50.0, 1.0, 4.8)
    unconfirmed = _det(150.0, 50.0, 0.05, 0.4)  # matched-filter peak above threshold, fit flux ≈ 0
    negative = _det(160.0, 50.0, -0.2, -1.0)
    hit = _det(170.0, 50.0, 0.05, 0.4, int(DetectionFlag.COSMIC_RAY))  # already flagged otherwise
    assert flag_unconfirmed([confirmed, unconfirmed, negative, hit]) == 2
    assert unconfirmed.flags & DetectionFlag.ARTEFACT and negative.flags & DetectionFlag.ARTEFACT
    assert not (confirmed.flags | hit.flags) & DetectionFlag.ARTEFACT


def test_limb_ridges_poorly_fitted_by_the_psf_are_flagged_near_the_limb_only():
    def det(mf_snr, chi2_dof, flags=0):
        d = _det(100.0, 50.0, 1.0, mf_snr, flags)
        d.extra = {"mf_snr": mf_snr, "chi2_dof": chi2_dof}
        return d

    ridge = det(8.0, 6.0)  # allowed 3 × (1 + 0.4²) = 3.48
    point = det(8.0, 1.2)  # a point source: χ²/dof ~ 1
    bright = det(100.0, 60.0)  # PSF-model error at S/N 100: allowed 3 × (1 + 25) = 78
    saturated = det(8.0, 50.0, int(DetectionFlag.SATURATED))
    off_limb = det(8.0, 6.0)
    dets = [ridge, point, bright, saturated, off_limb]
    assert flag_limb_ridges(dets, [True, True, True, True, False]) == 1
    assert ridge.flags & DetectionFlag.ARTEFACT
    assert not (point.flags | bright.flags | saturated.flags | off_limb.flags) & DetectionFlag.ARTEFACT


def test_edge_peaks_the_psf_fit_does_not_confirm_are_flagged_at_the_edge_only():
    """At the frame edge a peak whose fit keeps under half its matched-filter S/N is flagged; a source whose
    fit confirms it, or the same disagreement away from the edge (left to the other tests), is not."""
    from ioscan.detect.artefacts import flag_edge_unconfirmed

    edge = int(DetectionFlag.EDGE)
    misfit = _det(1.0, 0.4, 1.0, 3.5, edge)
    misfit.extra = {"mf_snr": 8.0}
    source = _det(200.0, 0.6, 1.0, 7.6, edge)
    source.extra = {"mf_snr": 8.0}
    inside = _det(200.0, 60.0, 1.0, 3.5)
    inside.extra = {"mf_snr": 8.0}
    hit = _det(5.0, 127.0, 1.0, 1.0, edge | int(DetectionFlag.COSMIC_RAY))
    hit.extra = {"mf_snr": 8.0}
    assert flag_edge_unconfirmed([misfit, source, inside, hit], 0.5) == 1
    assert misfit.flags & DetectionFlag.ARTEFACT and misfit.extra["artefact_test"].startswith("edge_fit")
    assert not (source.flags | inside.flags | hit.flags) & DetectionFlag.ARTEFACT


def test_edge_detections_the_psf_does_not_fit_are_flagged_at_the_edge_only():
    """At the frame edge (EDGE) a χ²/dof beyond 4 × (1 + (0.05 S/N)²) is flagged; within it (a bright true
    source's PSF-model error), saturated, or away from the edge, nothing is."""
    from ioscan.detect.artefacts import flag_edge_misfit_chi2

    edge = int(DetectionFlag.EDGE)

    def det(mf_snr, chi2_dof, flags=edge):
        d = _det(1.0, 0.5, 1.0, mf_snr, flags)
        d.extra = {"mf_snr": mf_snr, "chi2_dof": chi2_dof}
        return d

    limb_step = det(300.0, 980.0)  # allowed 4 × (1 + 15²) = 904
    ridge = det(20.0, 18.0)  # allowed 4 × 2 = 8
    bright = det(300.0, 800.0)
    point = det(8.0, 1.5)
    saturated = det(300.0, 5000.0, edge | int(DetectionFlag.SATURATED))
    inside = det(20.0, 18.0, 0)
    dets = [limb_step, ridge, bright, point, saturated, inside]
    assert flag_edge_misfit_chi2(dets) == 2
    assert limb_step.extra["artefact_test"] == ridge.extra["artefact_test"] == "edge_chi2"
    assert not (bright.flags | point.flags | saturated.flags | inside.flags) & DetectionFlag.ARTEFACT


def test_edge_chi2_reaches_as_far_as_the_background_annulus():
    """With a reach (the small annulus' outer half-size), a detection that far from the edge but not flagged
    EDGE is tested too: the background's annulus reads the reflection beyond the edge from there. Beyond the
    reach, or without one (the EDGE flag alone), it is not."""
    from ioscan.detect.artefacts import flag_edge_misfit_chi2

    def det(sample, line, chi2_dof=68.0, mf_snr=37.0):
        d = _det(sample, line, 1.0, mf_snr, 0)
        d.extra = {"mf_snr": mf_snr, "chi2_dof": chi2_dof}
        return d

    shape = (128, 432)
    near_bottom = det(316.2, 1000 + 125.1)  # 1.9 px from the bottom edge (band lines from 1000)
    near_left = det(3.0, 1000 + 60.0)
    too_far = det(4.0, 1000 + 60.0)
    fits = det(316.2, 1000 + 0.0, chi2_dof=10.0)  # allowed 4 × (1 + 1.85²) = 17.7
    dets = [near_bottom, near_left, too_far, fits]
    assert flag_edge_misfit_chi2(dets) == 0  # none is flagged EDGE
    assert flag_edge_misfit_chi2(dets, reach_px=3, line_offset=1000, shape=shape) == 2
    assert near_bottom.extra["artefact_test"] == near_left.extra["artefact_test"] == "edge_chi2"
    assert not (too_far.flags | fits.flags) & DetectionFlag.ARTEFACT


def test_on_a_sunlit_renderer_frame_a_misfit_beyond_the_edge_flag():
    """Frame 190 of ``bench_generalise``'s seed 99 (independent renderer, sunlit): the terminator meeting
    the bottom edge left a residual of matched-filter S/N ~37, χ²/dof ~68, 1.9 px from the edge (the core
    measured at σ 0.82 px: EDGE from 2 px, the small annulus reaching 4 px). The χ² test flags it now (no
    hot spot within 2 px of it in the renderer's truth) and no true hot spot of the frame."""
    import numpy as np

    from independent_frames import bench_generalise_frame
    from ioscan.detect import detect_frame

    frame, truth, illumination = bench_generalise_frame(190, seed=99)
    assert illumination == "day"

    def near_truth(d):
        return bool(np.min(np.hypot(truth[:, 0] - d.sample, truth[:, 1] - d.line)) <= 2.0)

    dets = detect_frame(frame).detections
    ours = [d for d in dets if d.extra.get("artefact_test") == "edge_chi2"]
    assert not any(near_truth(d) for d in ours)
    misfit = [d for d in ours if abs(d.sample - 316.2) < 1.0 and abs(d.line - 125.1) < 1.0]
    assert len(misfit) == 1 and not misfit[0].flags & DetectionFlag.EDGE


def test_on_a_sunlit_renderer_frame_the_limb_meeting_the_edge():
    """Frame 78 of ``bench_generalise``'s default seed (independent renderer, sunlit): where the limb meets
    the top edge the pad left a residual of matched-filter S/N ~300 (χ²/dof ~1,000) that no other test
    flagged; the χ² test flags it (the renderer's truth: no hot spot within 2 px) and no true hot spot of
    the frame, and changes no other detection's flag."""
    import numpy as np

    from independent_frames import bench_generalise_frame
    from ioscan.detect import DetectConfig, detect_frame

    frame, truth, illumination = bench_generalise_frame(78)
    assert illumination == "day"

    def near_truth(d):
        return bool(np.min(np.hypot(truth[:, 0] - d.sample, truth[:, 1] - d.line)) <= 2.0)

    on = detect_frame(frame).detections
    ours = [d for d in on if d.extra.get("artefact_test") == "edge_chi2"]
    assert ours and not any(near_truth(d) for d in ours)
    step = [d for d in ours if abs(d.sample - 334.3) < 1.0 and d.line < 2.0]
    assert len(step) == 1 and step[0].extra["mf_snr"] > 100
    off = detect_frame(frame, config=DetectConfig(edge_chi2_test=False)).detections
    bad = DetectionFlag.ARTEFACT | DetectionFlag.COSMIC_RAY
    kept_off = {(round(d.sample, 3), round(d.line, 3)) for d in off if not d.flags & bad}
    kept_on = {(round(d.sample, 3), round(d.line, 3)) for d in on if not d.flags & bad}
    assert kept_off - kept_on == {(round(d.sample, 3), round(d.line, 3)) for d in ours}


def _pair_loop(detections, psf_sigma_px, *, column_streaks, max_flux_ratio=0.02, column_halfwidth_px=1.5,
               ring_radius_px=None, bright_snr=200.0, rings=True):  # fmt: skip
    """flag_bright_source_artefacts as first written (a loop over every detection and bright source);
    returns (how many, each detection's flags and the test that flagged it)."""
    import numpy as np

    from ioscan.detect.artefacts import flag_artefact

    if len(detections) < 2:
        return 0
    sat_bit, hit_bit, art_bit = (int(f) for f in (DetectionFlag.SATURATED, DetectionFlag.COSMIC_RAY,
                                                  DetectionFlag.ARTEFACT))  # fmt: skip
    flux = np.array([d.net_radiance_sum for d in detections], float)
    snr = np.array([d.snr for d in detections], float)
    xy = np.array([[d.sample, d.line] for d in detections], float)
    saturated = np.array([bool(d.flags & sat_bit) for d in detections])
    hit = np.array([bool(d.flags & hit_bit) for d in detections])
    bright = np.flatnonzero((saturated | (snr >= bright_snr)) & ~hit & np.isfinite(flux) & (flux > 0))
    core_px = np.array([float(d.extra.get("clipped_core_radius_px") or 0.0) for d in detections])
    flagged = 0
    ring = ring_radius_px if ring_radius_px is not None else 4.0 * max(psf_sigma_px, 0.5)
    for i, det in enumerate(detections):
        if det.flags & art_bit:
            continue
        for j in bright:
            if j == i:
                continue
            fragment = saturated[i] and saturated[j] and flux[i] < flux[j]
            if fragment and np.hypot(*(xy[i] - xy[j])) <= ring:
                flag_artefact(det, "saturated_fragment")
                flagged += 1
                break
            if not flux[i] < max_flux_ratio * flux[j]:
                continue
            ds, dl = abs(xy[i, 0] - xy[j, 0]), abs(xy[i, 1] - xy[j, 1])
            in_streak = column_streaks and saturated[j] and ds <= column_halfwidth_px
            ring_j = ring + (core_px[j] if saturated[j] else 0.0)
            if in_streak or ((rings or saturated[j]) and np.hypot(ds, dl) <= ring_j):
                flag_artefact(det, "bright_streak" if in_streak else "bright_ring")
                flagged += 1
                break
    return flagged


def test_bright_source_artefacts_at_once_equal_the_pair_loop():
    """Every pair at once against the pair loop: the same detections flagged, by the same test (the first
    bright source in order that makes it one), on crowded random scenes with saturated cores, clipped-core
    radii, hits, NaN fluxes, already flagged detections and exact ties at the distances."""
    import copy

    import numpy as np

    rng = np.random.default_rng(17)
    for trial in range(150):
        n = int(rng.integers(0, 40))
        dets = []
        for k in range(n):
            x, y = rng.uniform(0, 60), rng.uniform(0, 40)
            if k and rng.random() < 0.2:  # an exact offset from an earlier one (ties at the ring, the column)
                x, y = dets[-1].sample + [10.0, 1.5, 0.0][k % 3], dets[-1].line + [0.0, 30.0, 2.4][k % 3]
            flux = float(10 ** rng.uniform(-2, 2)) if rng.random() > 0.05 else float("nan")
            snr = float(10 ** rng.uniform(0.5, 3.5))
            flags = 0
            if rng.random() < 0.25:
                flags |= int(DetectionFlag.SATURATED)
            if rng.random() < 0.1:
                flags |= int(DetectionFlag.COSMIC_RAY)
            if rng.random() < 0.1:
                flags |= int(DetectionFlag.ARTEFACT)
            d = _det(x, y, flux, snr, flags)
            if flags & int(DetectionFlag.SATURATED) and rng.random() < 0.5:
                d.extra["clipped_core_radius_px"] = float(rng.uniform(0, 4))
            dets.append(d)
        kw = dict(column_streaks=bool(trial % 2), ring_radius_px=[None, 10.0, 6.0][trial % 3],
                  rings=trial % 4 != 0)  # fmt: skip
        want = copy.deepcopy(dets)
        n_want = _pair_loop(want, 0.6, **kw)
        n_got = flag_bright_source_artefacts(dets, 0.6, **kw)
        assert n_got == n_want, trial
        assert [(d.flags, d.extra) for d in dets] == [(d.flags, d.extra) for d in want], trial
