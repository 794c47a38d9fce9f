"""What a user hits in the first week (issue 14), each case with what must never happen: data lost,
counted twice, or a scan stopped by one odd entry. Reprocessed products, odd file names, folder links, run
status, scans sharing a catalogue."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ioscan.catalog.store import open_store
from ioscan.workflows.scan import scan


def jiram_products(campaign, n: int = 2) -> list[Path]:
    return sorted(campaign.metakernel.parent.parent.glob("jiram/*/*.LBL"))[:n]


def copy_product(lbl: Path, dest: Path, *, version: str | None = None, scale: float = 1.0) -> Path:
    """Copy a JIRAM pair into ``dest``, as another version (ID, file names and PRODUCT_VERSION_ID) and/or with
    its data scaled (a reprocessing); returns the new label."""
    dest.mkdir(parents=True, exist_ok=True)
    old_id = lbl.stem
    new_id = old_id if version is None else re.sub(r"_V\d+$", f"_V{version}", old_id)
    text = lbl.read_text(encoding="ascii").replace(old_id, new_id)
    if version is not None:
        text = re.sub(r'PRODUCT_VERSION_ID(\s*)= "\d+"', rf'PRODUCT_VERSION_ID\1= "{version}"', text)
    data = np.fromfile(lbl.with_suffix(".IMG"), dtype="<f4") * np.float32(scale)
    (dest / f"{new_id}.LBL").write_text(text, encoding="ascii")
    data.astype("<f4").tofile(dest / f"{new_id}.IMG")
    return dest / f"{new_id}.LBL"


def in_force(store) -> list[str]:
    return sorted(store.observations_frame()["product_id"])


@pytest.mark.parametrize("newest_first", [False, True])
def test_reprocessed_version_supersedes_whatever_the_scan_order(small_campaign, tmp_path, newest_first):
    lbl = jiram_products(small_campaign, 1)[0]
    v01 = copy_product(lbl, tmp_path / "v01")
    v02 = copy_product(lbl, tmp_path / "v02", version="02", scale=1.05)
    kernels = small_campaign.metakernel
    first, second = (v02, v01) if newest_first else (v01, v02)
    with open_store(tmp_path / "c.db") as store:
        a = scan([first.parent], store=store, kernels=kernels, workers=0)
        b = scan([second.parent], store=store, kernels=kernels, workers=0)
        assert a.n_processed == b.n_processed == 1  # both stored: nothing dropped
        assert b.superseded == [(v01.stem, v02.stem)]  # the scan says so, whichever came last
        assert in_force(store) == [v02.stem]
        every = store.observations_frame(include_superseded=True)
        assert sorted(every["product_id"]) == [v01.stem, v02.stem]
        v2_id = int(every.set_index("product_id").at[v02.stem, "id"])
        # detections of the old version are kept but count once: only V02's in tracking and exports
        det = store.detections_frame()
        assert set(det["product_id"]) == {v02.stem} and (det["observation_id"] == v2_id).all()
        assert len(store.detections_frame(include_superseded=True)) == a.n_detections + b.n_detections
        # tracking sees only the version in force, and says how many of the stored detections it used
        from ioscan.workflows.track import track_catalog

        tracked = track_catalog(store)
        assert tracked.n_detections_stored == len(det) and tracked.n_detections_used <= len(det)
        used = store.detections_frame(include_superseded=True).dropna(subset=["hotspot_id"])
        assert set(used["observation_id"]) <= {v2_id}
        # a re-scan of both changes nothing
        again = scan([tmp_path / "v01", tmp_path / "v02"], store=store, kernels=kernels, workers=0)
        assert again.n_skipped == 2 and again.n_processed == 0 and not again.superseded


def test_same_id_with_changed_data_is_stored_not_dropped(small_campaign, tmp_path):
    """Today: "processed 1, 23 detections, ok" and nothing stored. Now: stored, the old data superseded."""
    lbl = jiram_products(small_campaign, 1)[0]
    old = copy_product(lbl, tmp_path / "old")
    new = copy_product(lbl, tmp_path / "new", scale=1.1)
    with open_store(tmp_path / "c.db") as store:
        scan([old.parent], store=store, kernels=small_campaign.metakernel, workers=0)
        before = store.detections_frame()
        summary = scan([new.parent], store=store, kernels=small_campaign.metakernel, workers=0)
        assert summary.n_processed == 1 and len(summary.superseded) == 1
        old_name, new_name = summary.superseded[0]
        assert old_name.startswith(lbl.stem + " (data ") and new_name.startswith(lbl.stem + " (data ")
        now = store.detections_frame()
        assert len(now) == summary.n_detections and set(now["observation_id"]).isdisjoint(
            before["observation_id"]
        )
        assert now["net_radiance_sum"].sum() == pytest.approx(
            1.1 * before["net_radiance_sum"].sum(), rel=0.05
        )
        assert len(store.observations_frame(include_superseded=True)) == 2


def test_an_odd_file_name_is_reported_and_the_scan_goes_on(small_campaign, tmp_path):
    """A name that is not UTF-8 aborted the scan (UnicodeEncodeError, run left 'interrupted', later products
    never read). Now it is reported and skipped; every other product is stored; the run is 'partial'."""
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ground[0], os.fsencode(folder) + b"/a_\xe9t\xe9.fits")  # Latin-1 bytes: not UTF-8
    for g in ground[1:]:
        shutil.copy(g, folder / g.name)
    with open_store(tmp_path / "c.db") as store:
        summary = scan([folder], store=store, workers=0)
        assert summary.n_processed == len(ground) - 1 and summary.n_errors == 1
        ((path, reason),) = summary.errors
        assert path.endswith("a_\\xe9t\\xe9.fits") and "not valid UTF-8" in reason
        assert len(store.observations_frame()) == len(ground) - 1
        run = store.runs_frame().iloc[-1]
        assert run["status"] == "partial"
        assert run["summary"]["n_errors"] == 1 and run["summary"]["errors"][0][1] == reason


def test_a_product_that_cannot_be_stored_fails_alone(small_campaign, tmp_path, monkeypatch):
    """A store error on one product (here: a path the database refuses) is that product's failure."""
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))
    with open_store(tmp_path / "c.db") as store:
        real = store.add_product
        calls = {"n": 0}

        def refusing(obs, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                obs.file_path = "bad\udce9name.fits"  # a surrogate: cannot be written as UTF-8
            return real(obs, *args, **kwargs)

        monkeypatch.setattr(store, "add_product", refusing)
        summary = scan(ground, store=store, workers=0)
        assert (
            summary.n_errors == 1
            and "file_path 'bad\\\\xe9name.fits' is not valid UTF-8" in summary.errors[0][1]
        )
        assert summary.n_processed == len(ground) - 1 == len(store.observations_frame())
        assert store.runs_frame()["status"].iloc[-1] == "partial"


def test_symlinked_folders_are_followed_once_and_loops_noted(small_campaign, tmp_path):
    root = small_campaign.metakernel.parent.parent
    top = tmp_path / "top"
    top.mkdir()
    (top / "ground").symlink_to(root / "ground", target_is_directory=True)
    (top / "again").symlink_to(root / "ground", target_is_directory=True)  # the same folder twice
    (top / "ground_loop").mkdir()
    (top / "ground_loop" / "up").symlink_to(top, target_is_directory=True)  # a loop
    with open_store(tmp_path / "c.db") as store:
        summary = scan([top], store=store, workers=0)
    n_ground = len(list((root / "ground").glob("*.fits")))
    assert summary.n_found == summary.n_processed == n_ground  # found through the link, each once
    assert any("symbolic link loop" in n for n in summary.notes)
    assert any("already searched" in n for n in summary.notes)


def test_scans_on_one_catalogue_share_the_work(small_campaign, tmp_path):
    """A second scan started while the first runs takes the products the first has not reached; the first
    skips what the second stored and says so; together they process every product once."""
    ground = sorted(small_campaign.metakernel.parent.parent.glob("ground/*.fits"))
    db = tmp_path / "c.db"
    second = {}

    def start_second(done, total, res):
        if res is not None and res.status not in ("skipped", "left") and not second:
            with open_store(db) as other:
                second["summary"] = scan(ground, store=other, workers=0)

    with open_store(db) as store:
        first = scan(ground, store=store, workers=0, progress=start_second)
        b = second["summary"]
        assert first.n_processed == 1 and b.n_skipped == 1
        assert b.n_processed == len(ground) - 1 and first.n_done_elsewhere == len(ground) - 1
        assert first.n_processed + b.n_processed == len(ground) == len(store.observations_frame())
        assert store.observations_frame()["product_key"].is_unique
