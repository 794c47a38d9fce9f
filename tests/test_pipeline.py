"""End to end on a simulated campaign: scan (in process and on Dask), idempotent re-runs, bad files and
crashes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ioscan.catalog.store import open_store
from ioscan.workflows.process import process_product
from ioscan.workflows.scan import scan


def test_scan_stores_every_frame_and_rerun_skips(small_campaign, db_url):
    with open_store(db_url) as store:
        first = scan(
            [small_campaign.metakernel.parent.parent],
            store=store,
            kernels=small_campaign.metakernel,
            workers=0,
        )
        assert first.n_errors == 0, first.errors
        assert first.n_processed == small_campaign.n_jiram + small_campaign.n_ground
        obs = store.observations_frame()
        assert len(obs) == first.n_processed
        assert set(obs["geometry_source"]) <= {"spice", "label"}
        assert obs["coverage_grid"].notna().all()
        det = store.detections_frame()
        assert len(det) == first.n_detections > 0
        second = scan(
            [small_campaign.metakernel.parent.parent],
            store=store,
            kernels=small_campaign.metakernel,
            workers=0,
        )
        assert second.n_skipped == first.n_processed and second.n_processed == 0
        assert len(store.detections_frame()) == len(det)


def test_bad_product_is_reported_and_skipped(small_campaign, tmp_path):
    lbl = sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL"))[0]
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    shutil.copy(lbl, bad_dir / lbl.name)
    img = lbl.with_suffix(".IMG")
    (bad_dir / img.name).write_bytes(img.read_bytes()[:1000])  # truncated
    good = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))[0]
    shutil.copy(good, bad_dir / good.name)
    with open_store(tmp_path / "c.db") as store:
        summary = scan([bad_dir], store=store, kernels=small_campaign.metakernel, workers=0)
        assert summary.n_errors == 1 and summary.n_processed == 1
        path, error = summary.errors[0]
        assert lbl.stem in path and lbl.stem in error and "truncated" in error.lower()
        assert len(store.observations_frame()) == 1


def test_crash_mid_run_keeps_committed_frames_and_rerun_completes(small_campaign, tmp_path, monkeypatch):
    root = small_campaign.metakernel.parent.parent / "ground"
    with open_store(tmp_path / "c.db") as store:
        real_add = store.add_product
        calls = {"n": 0}

        def failing_add(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("simulated crash while writing the second frame")
            return real_add(*args, **kwargs)

        monkeypatch.setattr(store, "add_product", failing_add)
        with pytest.raises(KeyboardInterrupt):
            scan([root], store=store, workers=0)
        assert len(store.observations_frame()) == 1
        assert store.runs_frame()["status"].iloc[-1] == "interrupted"
        monkeypatch.setattr(store, "add_product", real_add)
        summary = scan([root], store=store, workers=0)
        assert summary.n_skipped == 1 and summary.n_processed == small_campaign.n_ground - 1
        assert store.observations_frame()["product_id"].is_unique


def test_dask_local_cluster_gives_the_same_catalogue(small_campaign, tmp_path):
    root = small_campaign.metakernel.parent.parent / "jiram"
    with open_store(tmp_path / "serial.db") as serial, open_store(tmp_path / "dask.db") as parallel:
        scan([root], store=serial, kernels=small_campaign.metakernel, workers=0)
        scan([root], store=parallel, kernels=small_campaign.metakernel, workers=2)
        a = serial.detections_frame().sort_values(["product_id", "band", "sample"]).reset_index(drop=True)
        b = parallel.detections_frame().sort_values(["product_id", "band", "sample"]).reset_index(drop=True)
        assert len(a) == len(b) > 0
        # the same numbers up to the last bits (numpy's pairwise sums depend on memory alignment)
        assert np.allclose(a[["sample", "line", "snr"]], b[["sample", "line", "snr"]], rtol=1e-12, atol=0)


def test_process_product_never_raises(tmp_path):
    missing = process_product(tmp_path / "nothing.LBL")
    assert missing.status == "error" and "nothing.LBL" in missing.error
