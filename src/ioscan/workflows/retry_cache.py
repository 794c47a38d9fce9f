"""What a chaining retry starts from: a frame's state before hot-spot registration, kept in its process.

A scan processes the frames no registration reached again once frames of their orbit registered (chaining,
:mod:`ioscan.workflows.scan`). The read, the backplanes of the predicted (or limb-registered) pointing and the
first detection do not depend on the anchors, so :func:`~ioscan.workflows.process.process_product` keeps them
here (:func:`keep`) and a retry with more anchors starts from a copy (:func:`take`): only the hot-spot
registration, the detection again when it registers, and the measurement are done again — the same numbers
as processing the product from scratch (tested). On Dask the retry is sent to the worker that kept the state;
a state not found (another worker, evicted, the file changed) means processing from scratch.

Memory is bounded: at most :data:`BUDGET_MB` per process, least recently kept evicted first.
"""

from __future__ import annotations

import copy
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ioscan.geometry.backplanes import LazyLayers

#: memory kept for chaining retries per process (worker), MB
BUDGET_MB = 256.0

_STATES: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
_SIZE = [0]
_SETTINGS_TEXT: dict[int, tuple[object, str]] = {}
#: in this process: states kept, and retries that started from one
STATS = {"kept": 0, "hits": 0}


def _settings_text(settings) -> str:
    hit = _SETTINGS_TEXT.get(id(settings))
    if hit is None or hit[0] is not settings:
        hit = (settings, json.dumps(settings.to_dict(), sort_keys=True, default=str))
        _SETTINGS_TEXT.clear()
        _SETTINGS_TEXT[id(settings)] = hit
    return hit[1]


def state_key(path, kernels, settings) -> tuple | None:
    """What a kept state is valid for: the file (path, size, modification time), the kernels, the settings;
    None when the file cannot be looked at. (:func:`take` also checks the data's checksum.)"""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(Path(path)), st.st_size, st.st_mtime_ns, str(kernels or ""), _settings_text(settings))


def _nbytes(obj, depth: int = 0, seen: set | None = None) -> int:
    """The numpy arrays' bytes reachable from ``obj`` (dicts, lists, tuples, objects' attributes)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 16:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):  # a dict's own values: counting makes no lazy layer (LazyLayers)
        values = list(dict.values(obj))
        size = sum(_nbytes(v, depth + 1, seen) for v in values)
        if isinstance(obj, LazyLayers):  # each layer not made yet counted as the largest made
            missing = sum(not dict.__contains__(obj, name) for name in obj._names)
            size += missing * max((v.nbytes for v in values if isinstance(v, np.ndarray)), default=0)
        return size
    if isinstance(obj, list | tuple):
        return sum(_nbytes(v, depth + 1, seen) for v in obj)
    fields = getattr(obj, "__dict__", None)
    return _nbytes(fields, depth + 1, seen) if isinstance(fields, dict) else 0


def copy_state(started):
    """A copy processing cannot change: navigation and detections copied; the frame (read only) and the
    navigation's backplanes and views shared. Processing never changes a backplane or a view (registering
    replaces them: :meth:`~ioscan.geometry.navigate.Navigation.apply`); a lazy layer one copy makes serves
    the other (the same values), where copying them would make every lazy layer of the predicted geometry
    (~2.5 ms a frame the limb leaves, most of it layers nothing reads)."""
    out = copy.copy(started)
    memo = {id(started.frame): started.frame, id(started.searched): started.searched}
    nav = started.nav
    for shared in (*getattr(nav, "backplanes", {}).values(), *getattr(nav, "views", {}).values()):
        memo[id(shared)] = shared
    out.nav = copy.deepcopy(started.nav, memo)
    out.found = copy.deepcopy(started.found, memo)
    return out


def keep(key: tuple, started) -> bool:
    """Keep ``started`` (a copy nobody else changes) for a retry; evicts the oldest over the budget. False
    when it is larger than the budget (not kept)."""
    size = _nbytes(started)
    if size > BUDGET_MB * 1e6:
        return False
    forget(key)
    _STATES[key] = (started, size)
    _SIZE[0] += size
    STATS["kept"] += 1
    while _SIZE[0] > BUDGET_MB * 1e6 and _STATES:
        _, (_, old) = _STATES.popitem(last=False)
        _SIZE[0] -= old
    return True


def take(key: tuple):
    """A copy of the state kept under ``key`` (None when there is none, or when the product's data no longer
    has the checksum the kept frame was read with: a data file changed beside an unchanged label); the
    state stays for a later retry."""
    from ioscan.errors import IoscanError

    hit = _STATES.get(key)
    if hit is None:
        return None
    try:
        same = data_checksum(Path(key[0]), hit[0].frame) == hit[0].frame.checksum_sha256
    except (IoscanError, OSError):
        same = False
    if not same:
        forget(key)
        return None
    _STATES.move_to_end(key)
    STATS["hits"] += 1
    return copy_state(hit[0])


def data_checksum(path: Path, frame) -> str | None:
    """The data checksum :func:`ioscan.formats.product_identity` gives ``path`` now, for a product whose
    label (or FITS file) has not changed since ``frame`` was read from it (what :func:`state_key` checks):
    the checksum of the data file the label names (``frame.metadata["data_file"]``, beside the label) or of
    the FITS file itself, without parsing the label again (~4 ms of a JIRAM retry); otherwise from the
    product's identity."""
    from ioscan.formats import product_identity, product_kind
    from ioscan.formats._common import file_checksum_sha256

    meta = frame.metadata if isinstance(frame.metadata, dict) else {}
    name = meta.get("data_file")
    labelled = path.suffix.lower() in (".lbl", ".xml")  # the key's file is the label that names the data
    if labelled and isinstance(name, str) and name and (path.parent / name).is_file():
        return file_checksum_sha256(path.parent / name)
    if product_kind(path) == "fits":
        return file_checksum_sha256(path)
    return product_identity(path).checksum_sha256


def forget(key: tuple | None = None) -> None:
    """Drop the state kept under ``key`` (every state when None)."""
    if key is None:
        _STATES.clear()
        _SIZE[0] = 0
        return
    hit = _STATES.pop(key, None)
    if hit is not None:
        _SIZE[0] -= hit[1]


def kept_mb() -> float:
    """Memory the kept states hold, MB."""
    return _SIZE[0] / 1e6
