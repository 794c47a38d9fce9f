"""Anchors: hot spots whose surface positions are known better than a frame's pointing, for registration.

An anchor table is a DataFrame with one row per known hot spot:

* ``anchor_id`` (text), ``lat_deg`` (planetographic °N), ``lon_w_deg`` (west °W, 0–360);
* ``sigma_km``: 1σ of the position along each axis (north, east), km, for most anchors, and ``tail_sigma_km``
  with ``tail_fraction``: a wider error that a fraction of them has (published positions: 0.6° core, 5 % at
  2.5°, :data:`ioscan.catalog.reference.PUBLISHED_POSITION_ERROR`);
* ``group``: anchors sharing an error (e.g. the detections of one registered frame, all displaced together
  by that frame's remaining pointing error) carry the same group; ``shared_sigma_km`` is that shared 1σ (0
  for independent anchors). Registration adds the shared part once, whatever the number of matches;
* ``m_power_gw_um``: the hot spot's M-band spectral radiant power (GW/µm, a typical value: the catalogue's
  average), NaN when unknown, and ``m_power_sigma_ln``: the log-normal σ of the power a frame sees about it
  (variability, and the value's own error); registration reads from them how likely the hot spot is to be
  detected in a frame (:mod:`ioscan.geometry.detectability`); without them it takes the configured default.

Three sources: :func:`shipped_anchors` (the published tables shipped with ioscan, Davies et al. 2024 PSJ Table
10 and Nat. Astron. Table S1, merged), :func:`read_anchor_table` (a user's table, e.g. the hot spots a
catalogue refined from limb-registered mid-range frames: ``ioscan export hotspots``), and
:func:`anchors_from_detections` (detections of frames already registered, to chain a sequence).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.body import IO_MEAN_RADIUS_KM, angular_separation_deg
from ioscan.errors import IoscanError

KM_PER_DEG = IO_MEAN_RADIUS_KM * np.pi / 180.0
ANCHOR_COLUMNS = (
    "anchor_id",
    "lat_deg",
    "lon_w_deg",
    "sigma_km",
    "tail_sigma_km",
    "tail_fraction",
    "group",
    "shared_sigma_km",
    "m_power_gw_um",
    "m_power_sigma_ln",
)
#: a Table S1 source this close to a Table 10 source is the same source (as the simulator seeds), degrees
SAME_SOURCE_DEG = 2.0


class AnchorTableError(IoscanError):
    """An anchor table that cannot be used (names the file and the problem)."""


def _frame(rows: dict) -> pd.DataFrame:
    """The anchor table of ``rows`` (column → values), its columns in :data:`ANCHOR_COLUMNS` order."""
    return pd.DataFrame({c: rows[c] for c in ANCHOR_COLUMNS})


#: the shipped table as made last, kept on disk (:func:`_shipped`): a fresh process (a scan's Dask worker)
#: then reads it in a few ms instead of importing astropy and parsing the published tables (~0.45 s)
CACHE_ENV = "IOSCAN_CACHE_DIR"
_STRING_COLUMNS = ("anchor_id", "group")


def _no_power(n: int) -> dict:
    """The brightness columns of ``n`` anchors whose brightness is unknown."""
    return {"m_power_gw_um": np.full(n, np.nan), "m_power_sigma_ln": np.full(n, np.nan)}


def cache_dir() -> Path | None:
    """Where ioscan keeps what it can make again: ``$IOSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/ioscan``,
    else ``~/.cache/ioscan``; None when none of them is an absolute path (no home folder: nothing kept)."""
    import os

    if os.environ.get(CACHE_ENV):
        folder = Path(os.environ[CACHE_ENV]).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        folder = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "ioscan"
    else:
        folder = Path(os.path.expanduser("~")) / ".cache" / "ioscan"
    return folder if folder.is_absolute() else None


def _shipped_cache_path() -> Path | None:
    """The cache file of the shipped table, named by what makes it: this module's and the reader's code,
    the brightness model's constants (:mod:`ioscan.geometry.detectability`), the published tables' bytes,
    numpy's and pandas' versions (any change: another file); None when there is no cache folder."""
    import hashlib

    import ioscan.catalog.reference as reference
    import ioscan.geometry.detectability as detectability

    folder = cache_dir()
    if folder is None:
        return None
    h = hashlib.sha256()
    for name in (
        Path(__file__),
        Path(detectability.__file__),
        Path(reference.__file__),
        reference._path("davies2024_psj"),
        reference._path("davies2024_jiram"),
    ):
        h.update(Path(name).read_bytes())
    h.update(f"{np.__version__} {pd.__version__}".encode())
    return folder / f"shipped_anchors_{h.hexdigest()[:20]}.npz"


def _read_cached(path: Path) -> pd.DataFrame | None:
    """The table kept at ``path`` (None when absent or unreadable: it is then made again)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            cols = {c: z[c] for c in ANCHOR_COLUMNS}
    except Exception:  # absent, truncated, another format: make it again
        return None
    for c in _STRING_COLUMNS:
        cols[c] = cols[c].tolist()
    return _frame(cols)


def _write_cached(path: Path, table: pd.DataFrame) -> None:
    """Keep ``table`` at ``path``, written whole (a temporary file moved into place); a cache that cannot
    be written is no error."""
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            arrays = {c: table[c].to_numpy() for c in ANCHOR_COLUMNS}
            for c in _STRING_COLUMNS:
                arrays[c] = np.array(table[c].tolist(), dtype=str)
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    """The shipped table, from the disk cache when it holds this version's (:func:`_shipped_cache_path`)."""
    try:
        path = _shipped_cache_path()
    except (OSError, IoscanError):  # a table missing from the installation: say so as the reader does
        return _make_shipped()
    table = None if path is None else _read_cached(path)
    if table is None:
        table = _make_shipped()
        if path is not None:
            _write_cached(path, table)
    return table


def _make_shipped() -> pd.DataFrame:
    from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR, davies2024_jiram, davies2024_psj
    from ioscan.geometry.detectability import M_FROM_POWER_SIGMA_LN, M_PER_POWER_UM, VARIABILITY_SIGMA_LN

    err = PUBLISHED_POSITION_ERROR
    psj = davies2024_psj()
    jrm = davies2024_jiram()
    pairs = zip(psj["rank"], psj["jrm_id"], strict=True)
    ids = [j if isinstance(j, str) else f"PSJ{int(r):03d}" for r, j in pairs]
    lat, lon = psj["lat_deg"].to_numpy(float), psj["lon_w_deg"].to_numpy(float)
    known = set(psj["jrm_id"].dropna())
    extra_rows = []
    for r in jrm.itertuples():
        if r.ref_id in known:
            continue
        if np.min(angular_separation_deg(lat, lon, r.lat_deg, r.lon_w_deg)) < SAME_SOURCE_DEG:
            continue
        extra_rows.append((r.ref_id, r.lat_deg, r.lon_w_deg, r.avg_unsaturated_spectral_power_gw_um))
    all_ids = ids + [e[0] for e in extra_rows]
    n = len(all_ids)
    # brightness: Table S1's average M power where the source has one, else Table 10's power in M
    m_avg = dict(zip(jrm["ref_id"], jrm["avg_unsaturated_spectral_power_gw_um"].to_numpy(float), strict=True))
    from_s1 = np.array([m_avg.get(j, np.nan) if isinstance(j, str) else np.nan for j in psj["jrm_id"]])
    from_s1 = np.concatenate([from_s1, [e[3] for e in extra_rows]]).astype(float)
    from_power = np.concatenate([psj["power_gw"].to_numpy(float), np.full(len(extra_rows), np.nan)])
    have = np.isfinite(from_s1) & (from_s1 > 0)
    m_power = np.where(have, from_s1, M_PER_POWER_UM * from_power)
    sigma_ln = np.where(have, VARIABILITY_SIGMA_LN, math.hypot(VARIABILITY_SIGMA_LN, M_FROM_POWER_SIGMA_LN))
    sigma_ln = np.where(np.isfinite(m_power) & (m_power > 0), sigma_ln, np.nan)
    return _frame(
        {
            "anchor_id": all_ids,
            "lat_deg": np.concatenate([lat, [e[1] for e in extra_rows]]),
            "lon_w_deg": np.concatenate([lon, [e[2] for e in extra_rows]]) % 360.0,
            "sigma_km": np.full(n, err.core_deg * KM_PER_DEG),
            "tail_sigma_km": np.full(n, err.tail_deg * KM_PER_DEG),
            "tail_fraction": np.full(n, err.tail_fraction),
            "group": all_ids,
            "shared_sigma_km": np.zeros(n),
            "m_power_gw_um": np.where(np.isfinite(sigma_ln), m_power, np.nan),
            "m_power_sigma_ln": sigma_ln,
        }
    )


def shipped_anchors() -> pd.DataFrame:
    """The published hot spots shipped with ioscan as anchors: every source of Davies et al. (2024) PSJ Table
    10 and the JIRAM sources of Davies et al. (2024) Nat. Astron. Table S1 not already there (by JRM number,
    or within :data:`SAME_SOURCE_DEG`), with the published-position error model (a fresh copy)."""
    return _shipped().copy()


def _number(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        raise AnchorTableError(f"{path}: row {bad[0] + 2}: {col} is not a number ({df[col].iloc[bad[0]]!r})")
    return vals


def read_anchor_table(path: str | Path, *, default_sigma_km: float | None = None) -> pd.DataFrame:
    """Anchors from a CSV file: ``lat_deg`` (planetographic °N), ``lon_w_deg`` (west °W) and their 1σ, as
    ``lat_err_deg`` and ``lon_err_deg`` (degrees of longitude, as ``ioscan export hotspots`` writes them) or
    ``position_err_km``; optional ``hotspot_id``/``anchor_id``/``name`` for the IDs.

    Rows without an error take ``default_sigma_km`` (None: such a row is an error). An optional
    ``m_power_gw_um`` (M-band spectral radiant power, GW/µm) gives the hot spots' brightness (with
    ``m_power_sigma_ln``, else :data:`ioscan.geometry.detectability.VARIABILITY_SIGMA_LN`); rows without one
    have none. Raises AnchorTableError naming the file and row for anything unusable.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnchorTableError(f"{path}: cannot read the anchor table: {exc}") from None
    missing = {"lat_deg", "lon_w_deg"} - set(df.columns)
    if missing:
        raise AnchorTableError(f"{path}: anchor table lacks column(s) {', '.join(sorted(missing))}")
    if len(df) == 0:
        raise AnchorTableError(f"{path}: the anchor table has no rows")
    lat, lon = _number(df, "lat_deg", path), _number(df, "lon_w_deg", path)
    if np.any(np.abs(lat) > 90):
        i = int(np.flatnonzero(np.abs(lat) > 90)[0])
        raise AnchorTableError(f"{path}: row {i + 2}: lat_deg {lat[i]} is outside ±90")
    sigma = np.full(len(df), np.nan)
    if "lat_err_deg" in df.columns and "lon_err_deg" in df.columns:
        la = pd.to_numeric(df["lat_err_deg"], errors="coerce").to_numpy(float)
        lo = pd.to_numeric(df["lon_err_deg"], errors="coerce").to_numpy(float) * np.cos(np.radians(lat))
        sigma = KM_PER_DEG * np.sqrt(0.5 * (la**2 + lo**2))
    if "position_err_km" in df.columns:
        pe = pd.to_numeric(df["position_err_km"], errors="coerce").to_numpy(float)
        sigma = np.where(np.isfinite(sigma), sigma, pe)
    if default_sigma_km is not None:
        sigma = np.where(np.isfinite(sigma), sigma, default_sigma_km)
    bad = np.flatnonzero(~(np.isfinite(sigma) & (sigma > 0)))
    if bad.size:
        raise AnchorTableError(
            f"{path}: row {bad[0] + 2}: no usable position error (give lat_err_deg and lon_err_deg, or "
            "position_err_km, > 0)"
        )
    id_col = next((c for c in ("anchor_id", "hotspot_id", "name") if c in df.columns), None)
    ids = df[id_col].astype(str).tolist() if id_col else [f"{path.stem}:{i + 1}" for i in range(len(df))]
    bright = _no_power(len(df))
    if "m_power_gw_um" in df.columns:
        from ioscan.geometry.detectability import VARIABILITY_SIGMA_LN

        mp = pd.to_numeric(df["m_power_gw_um"], errors="coerce").to_numpy(float)
        sl = np.full(len(df), VARIABILITY_SIGMA_LN)
        if "m_power_sigma_ln" in df.columns:
            given = pd.to_numeric(df["m_power_sigma_ln"], errors="coerce").to_numpy(float)
            sl = np.where(np.isfinite(given) & (given > 0), given, sl)
        usable = np.isfinite(mp) & (mp > 0)
        bright = {
            "m_power_gw_um": np.where(usable, mp, np.nan),
            "m_power_sigma_ln": np.where(usable, sl, np.nan),
        }
    return _frame(
        {
            "anchor_id": ids,
            "lat_deg": lat,
            "lon_w_deg": lon % 360.0,
            "sigma_km": sigma,
            "tail_sigma_km": 3.0 * sigma,
            "tail_fraction": np.full(len(df), 0.02),
            "group": ids,
            "shared_sigma_km": np.zeros(len(df)),
            **bright,
        }
    )


def anchors_from_detections(
    detections: pd.DataFrame, group: str, shared_sigma_km: float, *, min_snr: float = 5.0
) -> pd.DataFrame:
    """Anchors from the detections of a frame registered before (to chain the frames of a sequence).

    Args:
        detections: ``lat_deg``, ``lon_w_deg``, ``lat_err_deg``, ``lon_err_deg`` (and ``snr``, ``flags``) of
            that frame's measured detections; cosmic rays, artefacts and off-disk ones are left out.
        group: the frame's ID (stored as "frame:<group>"): its anchors share its pointing error.
        shared_sigma_km: 1σ of that shared error on the surface, km (the frame's registration error).
        min_snr: weaker detections are left out.
    """
    from ioscan.records import DetectionFlag

    if len(detections) == 0:
        return _frame({c: [] for c in ANCHOR_COLUMNS})
    bad = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.OFF_DISK)
    d = detections
    keep = (
        np.isfinite(pd.to_numeric(d["lat_deg"], errors="coerce"))
        & np.isfinite(pd.to_numeric(d["lat_err_deg"], errors="coerce"))
        & ((d["flags"].astype(int) & bad) == 0 if "flags" in d else True)
        & (pd.to_numeric(d["snr"], errors="coerce") >= min_snr if "snr" in d else True)
    )
    d = d[keep]
    return _frame_anchors(
        *(d[c].to_numpy(float) for c in ("lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg")),
        group,
        shared_sigma_km,
    )


def _frame_anchors(
    lat: np.ndarray, lon_w: np.ndarray, lat_err: np.ndarray, lon_err: np.ndarray, group: str, shared_km: float
) -> pd.DataFrame:
    """The anchor table of a registered frame's kept detections (°N, °W, their 1σ in degrees): each one's own
    1σ on the surface is what its stated error holds beyond the frame's shared ``shared_km`` (at least a tenth
    of it), with a 2 % tail of 3×."""
    lo = lon_err * np.cos(np.radians(lat))
    total = KM_PER_DEG * np.sqrt(0.5 * (lat_err**2 + lo**2))
    own = np.sqrt(np.clip(total**2 - shared_km**2, (0.1 * total) ** 2, None))
    n = len(lat)
    return _frame(
        {
            "anchor_id": [f"{group}#{i + 1}" for i in range(n)],
            "lat_deg": lat,
            "lon_w_deg": lon_w % 360.0,
            "sigma_km": own,
            "tail_sigma_km": 3.0 * own,
            "tail_fraction": np.full(n, 0.02),
            "group": [f"frame:{group}"] * n,
            "shared_sigma_km": np.full(n, float(shared_km)),
            **_no_power(n),
        }
    )


def anchors_from_records(
    detections: Sequence, group: str, shared_sigma_km: float, *, min_snr: float = 5.0
) -> pd.DataFrame:
    """:func:`anchors_from_detections` of a frame's :class:`~ioscan.records.Detection` records, without the
    detections' table: the same rows, values and types (a scan's writer pools every registered frame's
    anchors for chaining, ~1 ms a frame through a table, ~0.2 ms this way)."""
    from ioscan.records import DetectionFlag

    if len(detections) == 0:
        return _frame({c: [] for c in ANCHOR_COLUMNS})

    def column(name: str) -> np.ndarray:
        return np.array([getattr(d, name) for d in detections], dtype=float)  # None → NaN, as to_numeric

    bad = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.OFF_DISK)
    lat, la, snr = column("lat_deg"), column("lat_err_deg"), column("snr")
    flags = np.array([int(d.flags) for d in detections], dtype=int)
    keep = np.isfinite(lat) & np.isfinite(la) & ((flags & bad) == 0) & (snr >= min_snr)
    return _frame_anchors(
        lat[keep], column("lon_w_deg")[keep], la[keep], column("lon_err_deg")[keep], group, shared_sigma_km
    )


def _spec_parts(spec: str) -> list[str]:
    text = str(spec).strip()
    if text.lower() in ("none", ""):
        return []
    return [p.strip() for p in text.split("+") if p.strip()]


def load_anchors(spec: str) -> pd.DataFrame:
    """Anchors from a setting: "shipped", a CSV path, "shipped+PATH" (both) or "none" (an empty table)."""
    parts = _spec_parts(spec)
    if not parts:
        return _frame({c: [] for c in ANCHOR_COLUMNS})
    tables = [shipped_anchors() if p.lower() == "shipped" else read_anchor_table(p) for p in parts]
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def check_anchors(spec: str) -> None:
    """Raise IoscanError (one line) when a table the setting names cannot be used, as :func:`load_anchors`
    would; the shipped table (ours, tested) is not read."""
    for part in _spec_parts(spec):
        if part.lower() != "shipped":
            read_anchor_table(part)
