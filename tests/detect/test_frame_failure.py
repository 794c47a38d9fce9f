"""A band whose search breaks fails its product loudly: never a band "without detections" that a scan would
store and count as processed (it once hid a broken detection step: 25 frames "processed, 0 failed", 16 of
them "no_detections")."""

from __future__ import annotations

import numpy as np
import pytest

import ioscan.detect.frame as frame_module
from ioscan.detect import detect_frame
from ioscan.errors import ProductError
from ioscan.records import BandImage, Frame


def _frame() -> Frame:
    rng = np.random.default_rng(0)
    band = BandImage(
        band="M",
        data=rng.normal(0.0, 1.0, (64, 64)).astype(np.float32),
        unit="W/(m^2*sr)",
        wavelength_um=4.78,
        bandwidth_um=0.48,
    )
    return Frame(
        product_id="TEST_PRODUCT_V01",
        instrument="JIRAM",
        observer="JUNO",
        time_utc="2022-03-04T08:34:55",
        exposure_s=0.1,
        bands={"M": band},
    )


def test_a_band_whose_search_breaks_fails_the_product_naming_band_and_error(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("need at least one array to stack")

    monkeypatch.setattr(frame_module, "detect_band", broken)
    with pytest.raises(ProductError, match=r"TEST_PRODUCT_V01: detection failed in band M: ValueError: need"):
        detect_frame(_frame())


def test_a_frame_of_noise_alone_is_no_failure():
    found = detect_frame(_frame())
    assert found.status in {"ok", "no_detections"}
