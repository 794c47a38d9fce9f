"""The calling process's share of a scan (issue 15): the registered frames' anchors made from the records
without a detections table (the same table, value for value), frames held for chaining stored in batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.geometry.anchors import ANCHOR_COLUMNS, anchors_from_detections, anchors_from_records
from ioscan.records import Detection, DetectionFlag

_FIELDS = ("lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg", "flags", "snr")


def _detection(rng, **over) -> Detection:
    base = dict(
        band="M",
        sample=10.0,
        line=20.0,
        sample_err_px=0.1,
        line_err_px=0.1,
        snr=float(rng.uniform(2, 40)),
        net_radiance_sum=1.0,
        net_radiance_sum_err=0.1,
        unit="W m-2 sr-1 um-1",
        background=0.0,
        peak=1.0,
        n_pixels=9,
        lat_deg=float(rng.uniform(-80, 80)),
        lon_w_deg=float(rng.uniform(-30, 400)),
        lat_err_deg=float(rng.uniform(0.05, 2)),
        lon_err_deg=float(rng.uniform(0.05, 3)),
    )
    base.update(over)
    return Detection(**base)


def _as_table(dets) -> pd.DataFrame:
    """What the scan used to build: a table of the fields, each column inferred from the records."""
    return pd.DataFrame({c: [getattr(d, c) for d in dets] for c in _FIELDS})


def test_anchors_from_records_are_the_table_path_exactly():
    rng = np.random.default_rng(3)
    flags = [0, int(DetectionFlag.COSMIC_RAY), int(DetectionFlag.NEAR_LIMB), DetectionFlag.OFF_DISK, 0, 0]
    dets = [_detection(rng, flags=flags[i % len(flags)]) for i in range(60)]
    dets[3] = _detection(rng, lat_deg=None, lon_w_deg=None)  # no geometry
    dets[7] = _detection(rng, lat_err_deg=None)
    dets[11] = _detection(rng, lon_err_deg=None)  # kept, with a NaN error (as the table path)
    dets[13] = _detection(rng, snr=5.0)  # at the threshold: kept
    dets[17] = _detection(rng, lat_deg=float("nan"))
    for shared in (0.0, 4.5, 500.0):
        new = anchors_from_records(dets, "JIR_X", shared)
        old = anchors_from_detections(_as_table(dets), "JIR_X", shared)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
        assert list(new.columns) == list(ANCHOR_COLUMNS)
        assert 0 < len(new) < len(dets)
    # all left out, and none at all: the empty table of either path
    weak = [_detection(rng, snr=1.0) for _ in range(3)]
    pd.testing.assert_frame_equal(
        anchors_from_records(weak, "F", 1.0), anchors_from_detections(_as_table(weak), "F", 1.0)
    )
    pd.testing.assert_frame_equal(
        anchors_from_records([], "F", 1.0), anchors_from_detections(pd.DataFrame(), "F", 1.0)
    )


def test_the_on_disk_mask_is_made_once_per_array_and_cannot_be_changed():
    from ioscan.geometry.backplanes import Backplanes

    disk = np.zeros((4, 6))
    disk[1:3, 2:5] = 1.0
    bp = Backplanes({"on_disk": disk})
    mask = bp.on_disk
    assert mask.dtype == bool and np.array_equal(mask, disk.astype(bool))
    assert bp.on_disk is mask  # the same array while the backplane is the same
    with pytest.raises(ValueError):
        mask[0, 0] = True  # read only: no caller can change what the others read
    bp.arrays["on_disk"] = np.ones((4, 6))  # a new backplane: a new mask
    assert bp.on_disk.all()


def test_tasks_hold_several_products_until_the_end_spreads_them_over_the_workers():
    from ioscan.workflows.scan import BATCH_MAX, TASKS_PER_WORKER, _batch_size

    # plenty left: full tasks; towards the end, smaller ones, and one product each for the last few
    assert _batch_size(64, 2) == BATCH_MAX
    assert _batch_size(TASKS_PER_WORKER * 2 * 2, 2) == 2
    assert [_batch_size(n, 2) for n in (3, 2, 1, 0)] == [1, 1, 1, 1]
    # taking products as the scan does, every worker still has a task when fewer than a task's worth is left
    left, sizes = 40, []
    while left:
        sizes.append(min(_batch_size(left, 2), left))
        left -= sizes[-1]
    assert sum(sizes) == 40 and max(sizes) <= BATCH_MAX and sizes[-TASKS_PER_WORKER * 2 :] == [1] * 4


def test_a_worker_sends_the_rows_the_writer_would_make(small_campaign):
    """What a Dask worker sends back (``for_writer``): the catalogue rows the writer would make from the
    records, the same detections count, a registered frame's chaining anchors as the writer would pool
    them, and no records or messages."""
    import copy
    import dataclasses

    from ioscan.catalog.store import product_rows
    from ioscan.settings import Settings
    from ioscan.workflows.process import chain_anchor_table, for_writer, process_product

    root = small_campaign.metakernel.parent.parent
    settings = Settings()
    settings = dataclasses.replace(settings, navigate=dataclasses.replace(settings.navigate, chain=True))
    labels = sorted((root / "jiram").rglob("*.LBL"))[:6]
    registered = 0
    for label in labels:
        res = process_product(label, small_campaign.metakernel, settings)
        assert res.status != "error", res.error
        expected = product_rows(res.observation, res.bands, res.detections)
        anchors = chain_anchor_table(res) if res.observation.registered else None
        sent = for_writer(copy.deepcopy(res), settings)
        assert sent.rows == expected and sent.n_detections == len(res.detections)
        assert sent.detections == [] and sent.bands == [] and sent.messages == []
        if anchors is not None:
            registered += 1
            pd.testing.assert_frame_equal(sent.chain_anchors, anchors)
        else:
            assert sent.chain_anchors is None
    assert registered >= 1  # some frames of the campaign register (their anchors were compared)
