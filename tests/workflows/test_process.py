"""One product's glue (:mod:`ioscan.workflows.process`): navigation's limb registration reaches detection,
which then does not measure the fitted band's limb again (the same detections as when it does)."""

from __future__ import annotations

import dataclasses

import pytest

from ioscan.detect import band as detect_band
from ioscan.detect import detect_frame, region
from ioscan.workflows.process import _default_settings, analyse_product


def _checked_bands(path, metakernel) -> tuple:
    """analyse_product of one product, and the bands whose geometry limb detection checked."""
    checked: list[str] = []
    current: list[str] = []
    real_locate, real_check = detect_band.locate_limb, region.geometry_limb_offset_px

    def locate(band, *a, **k):
        current.append(band.band)
        return real_locate(band, *a, **k)

    def check(*a, **k):
        checked.append(current[-1])
        return real_check(*a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(detect_band, "locate_limb", locate)
        mp.setattr(region, "geometry_limb_offset_px", check)
        frame, nav, _ = analyse_product(path, kernels=metakernel)
    return frame, nav, checked


@pytest.fixture(scope="module")
def analysed(small_campaign):
    """(frame, navigation, bands whose geometry limb was checked) of every JIRAM product of the campaign."""
    camp = small_campaign.metakernel.parent.parent
    products = sorted((camp / "jiram").rglob("*.LBL"))
    return [_checked_bands(path, small_campaign.metakernel) for path in products]


def test_the_fitted_band_is_not_checked_again_and_the_others_are(analysed):
    limb = [(f, n, c) for f, n, c in analysed if n.method == "limb"]
    assert limb, "the campaign has no limb-registered frame to test"
    for _, nav, checked in limb:
        assert nav.limb_band not in checked
        assert all(bp.limb_registration.band == nav.limb_band for bp in nav.backplanes.values())
    others = [(f, n, c) for f, n, c in analysed if n.method != "limb" and n.backplanes]
    assert any(checked for _, _, checked in others)  # frames registered otherwise, or not, keep the check


def test_skipping_the_check_leaves_the_detections_as_they_were(analysed):
    """Detection with the registration withheld (the check made in every band) finds the same detections,
    field for field: on these frames the check agrees with the fit, and the shading template is the same."""
    settings = _default_settings()
    for frame, nav, _ in analysed:
        if nav.method != "limb":
            continue
        cfg = dataclasses.replace(settings.detect, pointing_error_px=nav.detection_error_px)
        withheld = {k: dataclasses.replace(v, limb_registration=None) for k, v in nav.backplanes.items()}
        told = detect_frame(frame, nav.backplanes, config=cfg)
        checked = detect_frame(frame, withheld, config=cfg)
        assert repr(told.detections) == repr(checked.detections)
        assert told.messages == checked.messages and told.noise == checked.noise


def _digest(found) -> str:
    """Every field of every detection, the statuses, noise and messages (frame's and bands')."""
    return repr(
        (found.detections, found.status, found.band_status, found.noise, found.messages)
        + tuple(r.messages for r in found.bands.values())
    )


#: a pointing bound that reaches every band of the campaign whole (its far frames' disks grown by it)
WIDE_PX = (2000.0, 2000.0)


def _wide(nav):
    """``nav`` with a prior whose bound reaches the whole band (what a first detection searching every band
    whole was told)."""
    from ioscan.instruments.base import PointingPrior

    p = nav.prior
    wide = PointingPrior(p.sigma_px, WIDE_PX, p.along_track_axis)
    return dataclasses.replace(nav, prior=wide, messages=list(nav.messages))


@pytest.fixture(scope="module")
def repointed(small_campaign):
    """Per JIRAM product with Io in view: (frame, its navigation unregistered, its first detection told the
    prior's error and bound), and the navigation re-pointed by (1.5, −12) px and registered (what a hot-spot
    registration does)."""
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame
    from ioscan.workflows.process import _detect

    settings = _default_settings()
    camp = small_campaign.metakernel.parent.parent
    out = []
    for path in sorted((camp / "jiram").rglob("*.LBL")):
        frame = read_product(path)
        nav = navigate_frame(frame, kernels=small_campaign.metakernel, register=False)
        if not nav.backplanes or not any(bp.on_disk.any() for bp in nav.backplanes.values()):
            continue
        first = _detect(frame, nav, settings)
        moved = dataclasses.replace(nav, messages=list(nav.messages))
        band = next(iter(frame.bands))
        moved.apply((1.5, -12.0), band, (100.0, 60.0))
        moved.registered = True
        out.append((frame, nav, first, moved))
    assert len(out) >= 4
    return out


def test_the_first_detection_stands_where_detecting_again_gives_it(repointed):
    """Both told errors above region.MAX_GEOMETRY_LIMB_ERROR_PX and the first detection told a bound that
    reaches every band whole: the first detection, its messages restating the new error, equals detecting
    again with the re-pointed geometry, field for field."""
    import copy

    from ioscan.workflows.process import _detect, _detect_again, first_detection_stands, pointing_reach_px

    settings = _default_settings()
    for frame, nav, _, moved in repointed:
        told = nav.detection_error_px
        assert told > region.MAX_GEOMETRY_LIMB_ERROR_PX  # unregistered: the prior's error
        wide = _wide(nav)
        first = _detect(frame, wide, settings)
        before = (wide.backplanes, pointing_reach_px(wide))
        moved.pointing_floor_px, moved.offset_err_px = 0.05, (0.8, 3.4)  # 3.4 px: still above the bound
        assert first_detection_stands(frame, moved, told, before)
        again = _detect_again(frame, moved, settings, copy.deepcopy(first), told, before)
        assert _digest(again) == _digest(_detect(frame, moved, settings))
        assert f"pointing uncertain by {moved.detection_error_px:.3g} px" in " ".join(again.messages)


def test_a_first_detection_searched_within_the_bound_is_made_again(repointed):
    """Told the prior's bound, the first detection of a frame whose disk is small searched only the disk's
    reach: after a registration (no bound: a wrong match would leave it behind) it is made again, whatever
    the error told."""
    import copy

    from ioscan.workflows.process import _detect, _detect_again, first_detection_stands, pointing_reach_px

    settings = _default_settings()
    cropped = 0
    for frame, nav, first, moved in repointed:
        told = nav.detection_error_px
        before = (nav.backplanes, pointing_reach_px(nav))
        whole = all(
            region.reach_box(bp, before[1], 0.0, bp.shape) == (slice(0, bp.shape[0]), slice(0, bp.shape[1]))
            for bp in nav.backplanes.values()
        )
        cropped += not whole
        moved.pointing_floor_px, moved.offset_err_px = 0.05, (0.8, 3.4)
        assert first_detection_stands(frame, moved, told, before) == whole
        again = _detect_again(frame, moved, settings, copy.deepcopy(first), told, before)
        assert _digest(again) == _digest(_detect(frame, moved, settings))
    assert cropped > 0


def test_a_frame_not_registered_is_told_the_priors_bound(repointed):
    """detection_config: the prior's bound (sample, line) for a frame not registered, none once registered;
    the detections of the first search lie within the geometry's disk grown by it."""
    from ioscan.workflows.process import detection_config

    settings = _default_settings()
    for _, nav, first, moved in repointed:
        cfg = detection_config(settings, nav)
        assert cfg.pointing_reach_px == tuple(nav.prior.max_px) and cfg.pointing_error_px > 3
        assert detection_config(settings, moved).pointing_reach_px is None
        for d in first.detections:
            bp = nav.backplanes[d.band]
            lines, samples = region.reach_box(bp, cfg.pointing_reach_px, 4.0, bp.shape)
            assert samples.start <= d.sample < samples.stop


def test_a_detection_told_the_geometrys_limb_is_made_again(repointed):
    """Told ≤ region.MAX_GEOMETRY_LIMB_ERROR_PX after the re-pointing, detection reads the geometry's limb:
    it is made again, and differs from the first on some frames (so the first may not stand there)."""
    import copy

    from ioscan.workflows.process import _detect, _detect_again, first_detection_stands

    settings = _default_settings()
    differ = 0
    for frame, nav, first, moved in repointed:
        told = nav.detection_error_px
        moved.pointing_floor_px, moved.offset_err_px = 0.05, (0.2, 0.3)
        assert not first_detection_stands(frame, moved, told)
        again = _detect_again(frame, moved, settings, copy.deepcopy(first), told)
        assert _digest(again) == _digest(_detect(frame, moved, settings))
        differ += _digest(again) != _digest(first)
    assert differ > 0
