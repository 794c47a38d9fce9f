"""Benchmark: a JIRAM label's parse, pdr's against ioscan's (:mod:`ioscan.formats.pvl`), interleaved.

On a simulated campaign's labels (or ``--labels DIR``), in one process, CPU time (``time.thread_time``), per
label, median and mean over ``--rounds`` rounds, the order alternating each round: pdr's ``read_pvl`` against
``pvl.read_pvl`` (``parse_ms``); ``read_product`` with either parse (``read_ms``); the quick identity
(``product_identity``) with pdr's statement splitting and value making against ioscan's
(``identify_ms``). ``identical``: every label's values, blocks and keys the same (repr) both ways.

    python benchmarks/bench_label.py [--labels DIR] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path


def _both(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "mean": round(statistics.fmean(values), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", type=Path, help="a folder of JIRAM labels (default: a simulated campaign)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    from pdr.parselabel import pds3 as pdr_pds3
    from pdr.parselabel.utils import DEFAULT_PVL_LIMIT

    from ioscan.formats import jiram_pds3, product_identity, pvl, read_product

    folder = args.labels
    if folder is None:
        from ioscan.simulate.campaign import simulate_campaign

        folder = Path(tempfile.mkdtemp(prefix="ioscan_bench_label_"))
        simulate_campaign(folder, orbits=4, seed=5, frames_per_orbit=16, ground_nights=0)
    labels = sorted(p.absolute() for p in folder.rglob("*.LBL"))
    warnings.simplefilter("ignore")
    clock = time.thread_time

    ways = {  # (read_pvl, chunk_statements, literalize) as jiram_pds3 calls them
        "pdr": (pdr_pds3.read_pvl, pdr_pds3.chunk_statements, pdr_pds3.literalize_pvl),
        "ioscan": (pvl.read_pvl, pvl.chunk_statements, pvl.literalize),
    }
    identical = all(
        repr(ways["pdr"][0](str(p), max_size=DEFAULT_PVL_LIMIT))
        == repr(ways["ioscan"][0](str(p), max_size=DEFAULT_PVL_LIMIT))
        for p in labels
    )

    def use(way: str) -> None:
        jiram_pds3.read_pvl, jiram_pds3.chunk_statements, jiram_pds3.literalize = ways[way]

    def lap(what: str, way: str) -> float:
        use(way)
        t = clock()
        for p in labels:
            if what == "parse":
                ways[way][0](str(p), max_size=DEFAULT_PVL_LIMIT)
            elif what == "read":
                jiram_pds3._PARSED.clear()  # the read parses (no identity kept in this process)
                read_product(p)
            else:
                product_identity(p)
        return 1e3 * (clock() - t) / len(labels)

    times: dict = {f"{w}_ms": {way: [] for way in ways} for w in ("parse", "read", "identify")}
    try:
        for way in ways:  # warm
            lap("read", way)
        for r in range(args.rounds):
            for what in ("parse", "read", "identify"):
                for way in ("pdr", "ioscan") if r % 2 else ("ioscan", "pdr"):
                    times[f"{what}_ms"][way].append(lap(what, way))
    finally:
        use("ioscan")
    out = {k: {way: _both(v) for way, v in d.items()} for k, d in times.items()}
    head = {"benchmark": "label", "labels": len(labels), "rounds": args.rounds, "identical": identical}
    print(json.dumps({**head, **out}))


if __name__ == "__main__":
    main()
