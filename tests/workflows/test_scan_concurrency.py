"""Several processes on one catalogue, on SQLite and PostgreSQL: the schema is created once however many
open it at the same moment, two scans share the work and report it honestly, and a scan killed with
``kill -9`` (client and workers) then run again stores every product exactly once with the detections of a
clean scan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ioscan.catalog.store import open_store
from ioscan.workflows.scan import scan

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = dict(os.environ, PYTHONPATH=SRC)

RACE = """
import sys, time
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
from ioscan.catalog.store import open_store
open_store(sys.argv[1]).close()
"""


def ioscan_process(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ioscan.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kw,
    )


def test_processes_opening_a_new_catalogue_at_once_all_succeed(db_url):
    """Today one of them fails while the schema is created (SQLite "database is locked", PostgreSQL
    UniqueViolation)."""
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, db_url, str(start)], stderr=subprocess.PIPE, text=True, env=ENV
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with open_store(db_url) as store:
        assert store.runs_frame().empty


def _scan_runs(store) -> list[dict]:
    runs = store.runs_frame()
    return [r for r in runs[runs["command"] == "scan"]["summary"]]


def test_two_scans_at_once_process_each_product_once(small_campaign, db_url):
    """Today both do all the work and each reports the full count."""
    root = small_campaign.metakernel.parent.parent
    with open_store(db_url):
        pass  # an existing catalogue (creation races are the test above)
    args = ("scan", root, "--db", db_url, "--kernels", small_campaign.metakernel, "--workers", "0")
    procs = [ioscan_process(*args) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    n = small_campaign.n_jiram + small_campaign.n_ground
    with open_store(db_url) as store:
        obs = store.observations_frame()
        assert len(obs) == n and obs["product_key"].is_unique
        summaries = _scan_runs(store)
    assert len(summaries) == 2
    assert sum(s["n_processed"] for s in summaries) == n  # each product processed once, by one of them
    for s in summaries:
        accounted = s["n_processed"] + s["n_skipped"] + s["n_done_elsewhere"] + len(s["left_to_others"])
        assert accounted == s["n_found"] == n and s["n_errors"] == 0
    assert sum(s["n_detections"] for s in summaries) == len(store_detections(db_url))


def store_detections(db_url):
    with open_store(db_url) as store:
        return store.detections_frame()


def _fingerprint(det) -> dict:
    """Per product: its detections as (band, sample, line, snr), rounded far below any real difference."""
    out: dict = {}
    for row in det.itertuples():
        out.setdefault(row.product_id, []).append(
            (row.band, round(row.sample, 6), round(row.line, 6), round(row.snr, 4))
        )
    return {k: sorted(v) for k, v in out.items()}


def _n_descendants(pid: int) -> int:
    """Processes started by ``pid`` and theirs (a Dask scan's nannies and their workers)."""
    import psutil  # Dask's own dependency

    try:
        return len(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return 0


#: the Dask scan is killed this long after its worker processes appeared (importing, then at work; a scan
#: of the small campaign takes longer than that after them), not at its first store: it stores in batches of
#: up to 16 products or 1 s, so the campaign's whole result can land in one batch, the first store the last
KILL_AFTER_WORKERS_S = 1.5


@pytest.mark.parametrize("workers", ["2", "0"])
def test_kill_9_mid_scan_then_rerun_stores_everything_once(small_campaign, db_url, tmp_path, workers):
    root = small_campaign.metakernel.parent.parent
    n = small_campaign.n_jiram + small_campaign.n_ground
    with open_store(tmp_path / "clean.db") as clean:
        scan([root], store=clean, kernels=small_campaign.metakernel, workers=0)
        reference = _fingerprint(clean.detections_frame())
    assert len(reference) == n

    with open_store(db_url):
        pass
    args = ("scan", root, "--db", db_url, "--kernels", small_campaign.metakernel, "--workers", workers)
    proc = ioscan_process(*args, start_new_session=True)  # its own process group: client, nannies, workers
    started_at = None
    deadline = time.time() + 300
    with open_store(db_url) as store:
        while time.time() < deadline and proc.poll() is None:
            if workers == "0":
                if len(store.observations_frame()) >= 1:  # in process each product is its own transaction
                    break
            else:
                if started_at is None and _n_descendants(proc.pid) >= int(workers):
                    started_at = time.time()
                if started_at is not None and time.time() - started_at >= KILL_AFTER_WORKERS_S:
                    break
            time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    for _ in range(100):  # every process of the group gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    with open_store(db_url) as store:
        killed_at = len(store.observations_frame())
    # in process: killed after its first product was stored; on Dask: with its workers up (stored ones, if a
    # batch landed, stay stored)
    lowest = 1 if workers == "0" else 0
    assert lowest <= killed_at < n, "the scan was not killed mid-way (it finished first, or stored nothing)"

    rerun = ioscan_process(*args)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out + err
    with open_store(db_url) as store:
        obs = store.observations_frame(include_superseded=True)
        assert len(obs) == n and obs["product_id"].is_unique  # every product exactly once
        assert _fingerprint(store.detections_frame(include_superseded=True)) == reference
        runs = store.runs_frame()
        last = runs.iloc[-1]
        assert last["status"] == "ok" and not last["summary"]["left_to_others"]
        assert last["summary"]["n_processed"] == n - killed_at
        assert last["summary"]["n_skipped"] == killed_at
        # the killed run is known to have been interrupted when its claims were taken over (or stays
        # "running" when it held none at the moment it died)
        assert runs.iloc[-2]["status"] in ("interrupted", "running")
    json.dumps(last["summary"])  # the run's summary is plain JSON
