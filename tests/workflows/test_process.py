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
