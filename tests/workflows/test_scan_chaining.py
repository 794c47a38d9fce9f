"""A chaining retry starts from the frame's kept state and skips frames whose anchors did not change (issue
15): the catalogue must hold exactly what processing every retry from scratch stores."""

from __future__ import annotations

import pandas as pd
import pytest

from ioscan.catalog.store import open_store
from ioscan.workflows import retry_cache
from ioscan.workflows import scan as scan_module
from ioscan.workflows.scan import scan

#: per-run columns: ids, run and storage bookkeeping
_BOOKKEEPING = {"id", "observation_id", "run_id", "import_id", "hotspot_id", "superseded_by_id"}


@pytest.fixture(scope="module")
def chained_campaign(tmp_path_factory):
    """One orbit of 10 frames (seed 1): 7 frames no registration reaches on their own, 5 of which register
    on the detections of frames of their orbit (measured when this test was written)."""
    from ioscan.simulate.campaign import simulate_campaign

    out = tmp_path_factory.mktemp("chained")
    return simulate_campaign(out, orbits=1, seed=1, frames_per_orbit=10, ground_nights=0)


def _stored(url: str) -> dict[str, pd.DataFrame]:
    with open_store(url, create=False) as store:
        tables = {
            "observations": store.observations_frame(),
            "frames": store.frames_frame(),
            "detections": store.detections_frame(),
        }
    product = dict(zip(tables["observations"]["id"], tables["observations"]["product_id"], strict=True))
    tables["frames"]["product_id"] = tables["frames"]["observation_id"].map(product)
    out = {}
    for name, df in tables.items():
        df = df.drop(columns=[c for c in df.columns if c in _BOOKKEEPING])
        keys = [c for c in ("product_id", "band", "detection_id") if c in df.columns]
        out[name] = df.sort_values(keys).reset_index(drop=True)
    return out


def _scan(campaign, url: str, workers: int = 0):
    with open_store(url) as store:
        return scan(
            [campaign.metakernel.parent.parent / "jiram"],
            store=store,
            kernels=campaign.metakernel,
            workers=workers,
        )


def test_chaining_from_kept_states_stores_what_processing_from_scratch_stores(
    chained_campaign, tmp_path, monkeypatch
):
    fast_url = f"sqlite:///{tmp_path / 'fast.db'}"
    retry_cache.STATS.update(kept=0, hits=0)
    _scan(chained_campaign, fast_url)
    assert retry_cache.STATS["kept"] >= 5 and retry_cache.STATS["hits"] >= 5  # the fast path ran
    assert retry_cache.kept_mb() == 0.0  # freed at the end of the scan

    monkeypatch.setattr(retry_cache, "BUDGET_MB", 0.0)  # nothing kept: every retry from scratch
    monkeypatch.setattr(scan_module, "RETRY_UNCHANGED", True)  # and every held frame retried every round
    slow_url = f"sqlite:///{tmp_path / 'slow.db'}"
    retry_cache.STATS.update(kept=0, hits=0)
    _scan(chained_campaign, slow_url)
    assert retry_cache.STATS["hits"] == 0

    fast, slow = _stored(fast_url), _stored(slow_url)
    assert (fast["observations"]["registration_method"] == "chain").sum() >= 3
    for name in fast:
        pd.testing.assert_frame_equal(fast[name], slow[name], check_exact=True, obj=name)


def test_chaining_on_dask_stores_what_a_scan_in_process_stores(chained_campaign, tmp_path):
    here, dask = f"sqlite:///{tmp_path / 'here.db'}", f"sqlite:///{tmp_path / 'dask.db'}"
    _scan(chained_campaign, here)
    summary = _scan(chained_campaign, dask, workers=2)
    assert summary.status == "ok"
    a, b = _stored(here), _stored(dask)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    # and in the same row order (results stored in the order the products were taken up, whatever the
    # workers' timing), so that tracking, which reads detections by row id, makes the same hot spots
    assert _row_order(here) == _row_order(dask)


def _row_order(url: str) -> list[tuple]:
    with open_store(url, create=False) as store:
        obs = store.observations_frame(include_superseded=True).sort_values("id")
        dets = store.detections_frame(include_superseded=True).sort_values("id")
    return list(obs["product_id"]) + list(zip(dets["product_id"], dets["band"], dets["sample"], strict=True))


def test_a_kept_state_is_not_used_once_the_data_changed(chained_campaign, tmp_path):
    """A retry starts from scratch when the data file changed beside an unchanged label."""
    import shutil

    import numpy as np

    from ioscan.settings import Settings
    from ioscan.workflows.process import chainable, process_product

    kernels = chained_campaign.metakernel
    settings = Settings()
    retry_cache.forget()
    labels = sorted((kernels.parent.parent / "jiram").rglob("*.LBL"))
    held = None
    for lbl in labels:
        dest = tmp_path / lbl.name
        shutil.copy(lbl, dest)
        shutil.copy(lbl.with_suffix(".IMG"), dest.with_suffix(".IMG"))
        if chainable(process_product(dest, kernels, settings)):
            held = dest
            break
    assert held is not None
    key = retry_cache.state_key(held, kernels, settings)
    assert retry_cache.take(key) is not None  # kept, and the data unchanged
    img = held.with_suffix(".IMG")
    data = np.fromfile(img, dtype="<f4")
    data[0] += 1.0
    data.tofile(img)  # same size; the label untouched
    assert retry_cache.take(key) is None
    assert retry_cache.kept_mb() == 0.0


def test_a_kept_states_data_checksum_is_the_products_identitys(chained_campaign, tmp_path):
    """:func:`retry_cache.data_checksum` (the data file the label names, the label not parsed again) gives
    what ``product_identity`` gives, from the label or from the data file; and sees a changed data file."""
    import shutil

    from ioscan.formats import product_identity, read_product

    labels = sorted((chained_campaign.metakernel.parent.parent / "jiram").rglob("*.LBL"))[:3]
    for lbl in labels:
        frame = read_product(lbl)
        want = product_identity(lbl).checksum_sha256
        assert retry_cache.data_checksum(lbl, frame) == want == frame.checksum_sha256
        assert retry_cache.data_checksum(lbl.with_suffix(".IMG"), frame) == want
    dest = tmp_path / labels[0].name
    shutil.copy(labels[0], dest)
    img = dest.with_suffix(".IMG")
    shutil.copy(labels[0].with_suffix(".IMG"), img)
    frame = read_product(dest)
    img.write_bytes(img.read_bytes()[::-1])  # same size, other bytes
    assert retry_cache.data_checksum(dest, frame) == product_identity(dest).checksum_sha256
    assert retry_cache.data_checksum(dest, frame) != frame.checksum_sha256


def test_a_kept_state_shares_the_geometry_and_makes_no_lazy_layer(chained_campaign):
    """:func:`retry_cache.copy_state` shares the navigation's backplanes and views (processing replaces
    them, never changes them) and copies the rest; neither copying nor counting a state's bytes makes the
    predicted geometry's lazy layers (copying them made every layer: ~2.5 ms a frame the limb leaves), and
    the count takes each layer not made yet as the largest made."""
    from ioscan.geometry.backplanes import LazyLayers
    from ioscan.settings import Settings
    from ioscan.workflows.process import _start

    kernels = chained_campaign.metakernel
    labels = sorted((kernels.parent.parent / "jiram").rglob("*.LBL"))
    started = next(
        st
        for st in (_start(lbl, kernels, Settings()) for lbl in labels)
        if st.done is None
        and not st.nav.registered
        and any(isinstance(b.arrays, LazyLayers) and b.arrays._make_rest for b in st.nav.backplanes.values())
    )
    made = {b: set(dict.keys(bp.arrays)) for b, bp in started.nav.backplanes.items()}
    copied = retry_cache.copy_state(started)
    counted = retry_cache._nbytes(copied)
    assert {b: set(dict.keys(bp.arrays)) for b, bp in started.nav.backplanes.items()} == made  # none made
    for b in started.nav.backplanes:
        assert copied.nav.backplanes[b] is started.nav.backplanes[b]
        assert copied.nav.views[b] is started.nav.views[b]
    assert copied.nav is not started.nav and copied.nav.messages is not started.nav.messages
    assert copied.found is not started.found
    assert all(c is not d for c, d in zip(copied.found.detections, started.found.detections, strict=True))
    assert copied.frame is started.frame
    for bp in started.nav.backplanes.values():
        bp.arrays.items()  # every layer made
    assert counted >= retry_cache._nbytes(copied) > 0


@pytest.mark.parametrize("how", ["none", "unusable"])
def test_a_held_frame_without_detections_to_match_is_not_retried(
    chained_campaign, tmp_path, monkeypatch, how
):
    """A held frame with no detection to match (none at all, or only ones the matcher leaves out: flagged
    cosmic rays) registers on no anchors and draws no pointing from a posterior: retrying it gives what it
    gave, so the scan does not, and stores what retrying stores."""
    from ioscan.records import DetectionFlag
    from ioscan.workflows import process

    empty = "JIR_IMG_RDR_2023363T211633_V01"  # held, and retried with anchors when it has detections
    detect = process._detect

    def detect_nothing_there(searched, nav, settings):
        found = detect(searched, nav, settings)
        if searched.product_id == empty and how == "none":
            found.detections = []
        elif searched.product_id == empty:
            assert found.detections
            for d in found.detections:
                d.flags |= DetectionFlag.COSMIC_RAY
        return found

    monkeypatch.setattr(process, "_detect", detect_nothing_there)
    retried: list[str] = []
    run_cls = next(
        c for c in vars(scan_module).values() if isinstance(c, type) and hasattr(c, "_process_with_anchors")
    )
    with_anchors = run_cls._process_with_anchors

    def spy(self, get_client, items):
        retried.extend(it.path.stem for it, _, _ in items)
        return with_anchors(self, get_client, items)

    monkeypatch.setattr(run_cls, "_process_with_anchors", spy)
    fast_url = f"sqlite:///{tmp_path / 'fast.db'}"
    _scan(chained_campaign, fast_url)
    assert empty not in retried and retried  # the others were retried
    retried.clear()
    monkeypatch.setattr(scan_module, "RETRY_UNCHANGED", True)  # every held frame retried every round
    slow_url = f"sqlite:///{tmp_path / 'slow.db'}"
    _scan(chained_campaign, slow_url)
    assert empty in retried
    fast, slow = _stored(fast_url), _stored(slow_url)
    assert (fast["observations"]["product_id"] == empty).sum() == 1
    if how == "unusable":  # stored with its detections
        assert (fast["detections"]["product_id"] == empty).sum() > 0
    for name in fast:
        pd.testing.assert_frame_equal(fast[name], slow[name], check_exact=True, obj=name)


def test_a_deferred_held_frame_finished_from_its_kept_state_is_what_measuring_it_at_once_gives(
    chained_campaign,
):
    """``process_product(..., defer_held=True)`` leaves a frame held for chaining unmeasured (its state
    kept): no band summaries, ``deferred``; finished with ``NO_EXTRA_ANCHORS`` it is the result processing
    it without deferring gives, row for row; a frame that registers is measured at once."""
    from ioscan.catalog.rows import product_rows
    from ioscan.settings import Settings
    from ioscan.workflows.process import NO_EXTRA_ANCHORS, chainable, process_product

    kernels = chained_campaign.metakernel
    settings = Settings()
    labels = sorted((kernels.parent.parent / "jiram").rglob("*.LBL"))
    retry_cache.forget()
    n_deferred = n_registered = 0
    for lbl in labels:
        res = process_product(lbl, kernels, settings, defer_held=True)
        if res.deferred:
            n_deferred += 1
            assert chainable(res) and not res.bands and res.matchable is not None
            assert res.observation.coverage_grid is None  # not made for a result never stored
            assert retry_cache.STATS["kept"] > 0
            done = process_product(lbl, kernels, settings, NO_EXTRA_ANCHORS)
            retry_cache.forget()
            at_once = process_product(lbl, kernels, settings)
            assert not done.deferred and not at_once.deferred and done.bands
            assert product_rows(done.observation, done.bands, done.detections) == product_rows(
                at_once.observation, at_once.bands, at_once.detections
            )
        else:
            n_registered += bool(res.observation is not None and res.observation.registered)
            assert res.status == "error" or res.observation is None or res.bands
        retry_cache.forget()
    assert n_deferred >= 5 and n_registered >= 1
