"""What a scan's processes pay once (issue 15): the shipped anchor table from the disk cache, BLAS held to one
thread in a scan in process (as on a Dask worker), a scan's own workers exiting without the interpreter's
teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioscan.geometry import anchors as anchors_module

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(anchors_module.CACHE_ENV, str(tmp_path / "cache"))
    anchors_module._shipped.cache_clear()
    yield tmp_path / "cache"
    anchors_module._shipped.cache_clear()


def test_the_cached_shipped_table_is_the_parsed_one_exactly(cache):
    made = anchors_module._make_shipped()  # parsed from the published tables, no cache involved
    first = anchors_module.shipped_anchors()  # makes the cache
    path = anchors_module._shipped_cache_path()
    assert path.parent == cache and path.is_file()
    anchors_module._shipped.cache_clear()
    again = anchors_module.shipped_anchors()  # read from the cache
    for table in (first, again):
        pd.testing.assert_frame_equal(table, made, check_exact=True)
        assert table.dtypes.to_dict() == made.dtypes.to_dict()
        assert all(type(v) is str for v in table["anchor_id"]) and all(type(v) is str for v in table["group"])
    assert len(made) > 300


def test_a_damaged_cache_is_made_again_and_an_unwritable_one_is_no_error(cache, monkeypatch):
    anchors_module.shipped_anchors()
    path = anchors_module._shipped_cache_path()
    path.write_bytes(b"not a table")
    anchors_module._shipped.cache_clear()
    pd.testing.assert_frame_equal(anchors_module.shipped_anchors(), anchors_module._make_shipped())
    assert anchors_module._read_cached(path) is not None  # written again, whole
    # a cache folder that is a file: nothing can be written there, the table is made all the same
    blocked = cache.parent / "blocked"
    blocked.write_text("a file")
    monkeypatch.setenv(anchors_module.CACHE_ENV, str(blocked / "sub"))
    anchors_module._shipped.cache_clear()
    pd.testing.assert_frame_equal(anchors_module.shipped_anchors(), anchors_module._make_shipped())


def test_no_home_folder_means_no_cache(monkeypatch):
    monkeypatch.delenv(anchors_module.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/folder")
    assert anchors_module.cache_dir() is None and anchors_module._shipped_cache_path() is None
    anchors_module._shipped.cache_clear()
    try:
        pd.testing.assert_frame_equal(anchors_module.shipped_anchors(), anchors_module._make_shipped())
    finally:
        anchors_module._shipped.cache_clear()


def test_the_cache_file_is_named_by_the_tables_it_was_made_from(cache, monkeypatch, tmp_path):
    from ioscan.catalog import reference

    before = anchors_module._shipped_cache_path()
    changed = tmp_path / "psj.txt"
    changed.write_bytes(reference._path("davies2024_psj").read_bytes() + b"\n")
    real = reference._path
    monkeypatch.setattr(reference, "_path", lambda name: changed if name == "davies2024_psj" else real(name))
    assert anchors_module._shipped_cache_path() != before


def test_blas_is_held_to_one_thread_inside_and_restored_after():
    from ioscan.workflows.blas import blas_threads, limit_blas_threads, one_blas_thread

    np.dot(np.ones((64, 64)), np.ones((64, 64)))  # BLAS loaded
    before = blas_threads()
    if not before:
        pytest.skip("no OpenBLAS found in this process")
    with one_blas_thread():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
    limiter = limit_blas_threads(1)
    assert blas_threads() == [1] * len(before)
    limiter.restore_original_limits()
    assert blas_threads() == before


def test_a_scan_in_process_processes_with_one_blas_thread(monkeypatch, tmp_path):
    """The in-process loop runs every product inside ``one_blas_thread`` (what a Dask worker has)."""
    from ioscan.catalog.store import open_store
    from ioscan.workflows import scan as scan_module
    from ioscan.workflows.blas import blas_threads

    seen = []

    def fake_process(path, kernels, settings, extra=None):
        seen.append(blas_threads())
        return scan_module.ProductResult(path=str(path), status="error", error=f"{path}: not processed")

    monkeypatch.setattr(scan_module, "process_product", fake_process)
    product = tmp_path / "frame.fits"
    product.write_bytes(b"SIMPLE")
    before = blas_threads()
    with open_store(tmp_path / "c.db") as store:
        scan_module.scan([product], store=store, workers=0)
    assert seen and all(set(s) <= {1} for s in seen)
    assert blas_threads() == before


def test_quick_exit_flushes_and_ends_with_status_0():
    code = (
        "import sys; from ioscan.workflows.cluster import _exit_without_teardown; _exit_without_teardown(); "
        "print('printed before exit'); sys.stdout.write('unflushed')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "printed before exit\nunflushed"


def test_only_a_scans_own_cluster_exits_quickly():
    from ioscan.workflows.cluster import ScanWorkerPlugin

    assert ScanWorkerPlugin(None).quick_exit is False  # a --scheduler cluster's workers are left as they are


def test_the_worker_plugin_puts_blas_back_as_it_found_it():
    """On a shared cluster (``--scheduler``) the worker outlives the scan: unregistering the plugin
    restores the BLAS thread count it found."""
    from ioscan.workflows.blas import blas_threads, limit_blas_threads
    from ioscan.workflows.cluster import ScanWorkerPlugin

    np.dot(np.ones((8, 8)), np.ones((8, 8)))
    if not blas_threads():
        pytest.skip("no OpenBLAS found in this process")
    restore = limit_blas_threads(2)  # what a worker without the nanny's environment would have
    try:
        found = blas_threads()
        plugin = ScanWorkerPlugin(None, None)
        plugin.setup()
        assert blas_threads() == [1] * len(found)
        plugin.teardown()
        assert blas_threads() == found
    finally:
        restore.restore_original_limits()
