"""The whole ``ioscan`` package as it was at a git revision, importable beside the current one (benchmarks
that time old and new code alternately on the same inputs, in one process: ``bench_detect.py --against
REV``).

``package_at("HEAD~3")`` extracts ``src/ioscan`` at that revision into a temporary folder as the package
``ioscan_at_<rev>`` (every ``ioscan`` import inside it rewritten to that name, so the two never share a
module) and returns it; the folder is removed when the process exits. Records made by the current package
are accepted by the old one as long as their fields did not change (the detection code reads attributes
only).
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(r"\b(from|import) ioscan(?=[. \n])")


def package_at(rev: str):
    """The ``ioscan`` package at git revision ``rev``, imported as ``ioscan_at_<rev>``."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short=10", rev], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    name = f"ioscan_at_{sha}"
    if name in sys.modules:
        return sys.modules[name]
    root = Path(tempfile.mkdtemp(prefix="ioscan_against_"))
    # the copy (~12 MB with numba's cache of it) goes when the process exits
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    tar = root / "src.tar"
    with tar.open("wb") as fh:
        subprocess.run(["git", "archive", sha, "src/ioscan"], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(root, filter="data")
    pkg = root / name
    (root / "src" / "ioscan").rename(pkg)
    for py in pkg.rglob("*.py"):
        text = py.read_text()
        new = _IMPORT.sub(rf"\1 {name}", text).replace('"ioscan.', f'"{name}.')
        if new != text:
            py.write_text(new)
    sys.path.insert(0, str(root))
    return importlib.import_module(name)


def config_for(package, config):
    """``config`` (the current package's :class:`~ioscan.detect.DetectConfig`) as ``package``'s own
    ``DetectConfig``: the fields both know keep the current values; fields added since ``package``'s
    revision are left out (the old code cannot read them); fields removed since take their old defaults."""
    if config is None:
        return None
    old_cls = importlib.import_module(package.__name__ + ".detect.config").DetectConfig
    have = {f.name for f in dataclasses.fields(config)}
    return old_cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(old_cls) if f.name in have})
