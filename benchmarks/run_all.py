"""Run every benchmarks/bench_*.py and print one JSON object keyed by benchmark name.

Each benchmark is a standalone script printing one JSON object on its last stdout line. Run as
``make bench`` (or ``python benchmarks/run_all.py [name ...]`` for a subset).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: arguments a benchmark runs with under ``make bench`` (the rest run with their defaults): the pulls of three
#: seeds pooled per brightness bin, issue 14's criterion (a single seed's bins hold too few frames)
ARGS = {
    "pulls": [
        "--seeds", "20261208,13,4", "--orbits", "6", "--frames-per-orbit", "8", "--independent", "240",
    ],
}  # fmt: skip


def _last_json(stdout: str) -> dict | None:
    """The JSON object a benchmark printed last: its whole output, or its last line (one-line JSON)."""
    text = stdout.strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    start = text.rfind("\n{")  # an indented object printed after other output
    if start >= 0:
        try:
            return json.loads(text[start + 1 :])
        except json.JSONDecodeError:
            return None
    return None


def run_one(script: Path) -> dict:
    """Run one benchmark script in a fresh interpreter; return its JSON (or the error)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    start = time.perf_counter()
    args = ARGS.get(script.stem.removeprefix("bench_"), [])
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - start
    result = _last_json(proc.stdout)
    if result is None or proc.returncode != 0:
        result = {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr.strip().splitlines()[-5:]}
    result["wall_s"] = round(wall, 2)
    return result


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
    results = {s.stem.removeprefix("bench_"): run_one(s) for s in scripts}
    print(json.dumps(results, indent=2))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
