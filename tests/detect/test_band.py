"""detect.band's orchestration: steps that are skipped where their result would not be used."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ioscan.detect import DetectConfig, band
from ioscan.detect.psf import PsfModel

MODEL = PsfModel((0.9, 0.1), (0.6, 2.5))


def _limb(seen: bool):
    """What :func:`band._psf_in_use` reads of a :class:`ioscan.detect.region.Limb`."""
    return SimpleNamespace(circle=object() if seen else None, distance_px=None)


def _counting_measure(monkeypatch) -> list:
    """band._measure_psf replaced by one that records its calls and measures a 0.8-px core."""
    from ioscan.detect.psf_estimate import PsfEstimate

    calls: list = []

    def measured(data, sat_mask, limb, single_source_snr=100.0):
        calls.append(single_source_snr)
        return PsfEstimate(0.8, 0.8, 3, 400.0)

    monkeypatch.setattr(band, "_measure_psf", measured)
    return calls


def test_psf_not_measured_where_a_limb_is_seen_and_nothing_takes_it(monkeypatch):
    """With a limb seen in the image, ``psf_filter_where_limb_seen`` off and no one-source spike setting,
    neither the filter nor the spike test takes a measured core: the measurement is not made, and the
    model stays for both, as when it is made."""
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    msgs: list[str] = []
    psf, spike, measured = band._psf_in_use(img, None, _limb(True), MODEL, DetectConfig(), "M", msgs)
    assert calls == [] and psf is MODEL and spike is MODEL and not measured and not msgs


@pytest.mark.parametrize(
    "cfg",
    [DetectConfig(psf_filter_where_limb_seen=True), DetectConfig(psf_spike_one_source_snr=15.0)],
)
def test_psf_measured_where_a_limb_is_seen_when_a_setting_takes_it(monkeypatch, cfg):
    """Either setting that lets a measured core be used where a limb is seen still measures it."""
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    psf, spike, _ = band._psf_in_use(img, None, _limb(True), MODEL, cfg, "M", [])
    assert len(calls) == 1
    assert (spike if cfg.psf_spike_one_source_snr else psf).core_sigma_px == pytest.approx(0.8)


def test_psf_measured_where_no_limb_is_seen(monkeypatch):
    calls = _counting_measure(monkeypatch)
    img = np.zeros((20, 20), np.float32)
    psf, spike, measured = band._psf_in_use(img, None, _limb(False), MODEL, DetectConfig(), "M", [])
    assert len(calls) == 1 and measured and psf is spike and psf.core_sigma_px == pytest.approx(0.8)
