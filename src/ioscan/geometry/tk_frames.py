"""Fixed (TK) frames of a SPICE text frames kernel, read without SPICE: the rotation between two frames tied
by fixed offsets (e.g. JIRAM's band frames and JUNO_SPACECRAFT in NAIF's Juno FK), as ``pxform`` gives it.

Used by the simulator's planner, which needs the instrument's mounting before any kernel is loaded.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np


def _frame_rotation(angle_rad: float, axis: int) -> np.ndarray:
    """SPICE's [angle]_axis: the matrix giving coordinates in a frame turned by ``angle`` about ``axis``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    i, j = [(1, 2), (2, 0), (0, 1)][axis - 1]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, s, -s, c
    return m


@lru_cache(maxsize=8)
def tk_frames(kernel: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Frame name → (RELATIVE frame, matrix rotating the frame's vectors into RELATIVE) for every TK frame of
    the shipped FK defined with ``TKFRAME_<id>_SPEC = 'ANGLES'``.

    SPICE builds that matrix as [angle_1]_axis_1 · [angle_2]_axis_2 · [angle_3]_axis_3 (Frames Required
    Reading, "TK frames"); the JIRAM blocks of the FK say the same in words.
    """
    text = Path(kernel).read_text()
    data = "\n".join(part.split("\\begintext")[0] for part in text.split("\\begindata")[1:])
    names = dict(re.findall(r"FRAME_(-?\d+)_NAME\s*=\s*'([^']+)'", data))
    keys: dict[str, dict[str, str]] = {}
    for code, key, value in re.findall(r"TKFRAME_(-?\d+)_(\w+)\s*=\s*(\([^)]*\)|'[^']*')", data):
        keys.setdefault(code, {})[key] = value.strip("()' ")
    out = {}
    for code, kw in keys.items():
        if kw.get("SPEC") != "ANGLES" or code not in names:
            continue
        scale = math.pi / 180.0 if kw.get("UNITS", "RADIANS").upper() == "DEGREES" else 1.0
        angles = [float(v) * scale for v in kw["ANGLES"].replace(",", " ").split()]
        axes = [int(float(v)) for v in kw["AXES"].replace(",", " ").split()]
        m = np.eye(3)
        for angle, axis in zip(angles, axes, strict=True):
            m = m @ _frame_rotation(angle, axis)
        out[names[code]] = (kw["RELATIVE"], m)
    return out


def fixed_rotation(frame: str, to: str, kernel: Path) -> np.ndarray:
    """Matrix rotating vectors of ``frame`` into ``to`` through the shipped FK's fixed (TK) frames, as SPICE's
    ``pxform(frame, to, et)`` gives it, from the frames kernel ``kernel``; both must hang on the same non-TK
    frame (e.g. JUNO_SPACECRAFT)."""
    tk = tk_frames(Path(kernel))

    def to_root(name: str) -> tuple[str, np.ndarray]:
        m = np.eye(3)
        while name in tk:
            name, step = tk[name][0], tk[name][1]
            m = step @ m
        return name, m

    root_a, a = to_root(frame)
    root_b, b = to_root(to)
    if root_a != root_b:
        raise ValueError(f"{frame} and {to} are not tied by fixed frames ({root_a} vs {root_b})")
    return b.T @ a
