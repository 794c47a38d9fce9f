"""Mosaics of registered frames on a latitude–longitude grid, the best view per cell.

Only observations the catalogue records as **registered** (pointing corrected on the limb) are used. Each is
re-read from ``observations.file_path`` and re-navigated with the kernels its scan run recorded
(``runs.parameters["kernels"]``; label geometry when the run had none), with registration; a frame whose
re-registration fails or differs from the stored offset by more than ``mosaic_max_offset_diff_px`` stays out,
with the reason.

Reprojection: every on-disk pixel seen at emission < ``emission_max_deg`` is placed at its surface point; a
pixel spanning n grid cells (in latitude or longitude degrees, from the backplanes' pixel-to-pixel steps) is
sub-sampled n × n times (up to :data:`MAX_SUBSAMPLE`; positions from the local gradient of the body-fixed unit
vectors, the pixel's own value kept), so coarse frames, the foreshortened limb and the narrow polar cells
leave no holes. Per cell, the sample with the **best resolution** (smallest pixel scale / cos e, i.e. the
finest foreshortened footprint; ties go to the lower emission angle) wins. Values are spectral radiance
(W m⁻² sr⁻¹ µm⁻¹, :meth:`ioscan.records.BandImage.spectral_radiance_w_m2_sr_um`), one mosaic per instrument
and band. Grid rows run from −90°N, columns from 0°W.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.errors import IoscanError

MAX_SUBSAMPLE = 16


@dataclass
class Mosaic:
    """One band's mosaic.

    Attributes:
        instrument, band: what it shows.
        cell_deg: grid cell size, °.
        value: (n_lat, n_lon) spectral radiance, W m⁻² sr⁻¹ µm⁻¹ (NaN: no frame).
        emission_deg, scale_km: emission angle and pixel scale (km/px at normal view) of the chosen sample.
        frame_index: index into ``frames`` of the chosen frame (−1: none).
        frames: product IDs used.
    """

    instrument: str
    band: str
    cell_deg: float
    value: np.ndarray
    emission_deg: np.ndarray
    scale_km: np.ndarray
    frame_index: np.ndarray
    frames: list[str] = field(default_factory=list)

    @property
    def filled_fraction(self) -> float:
        """Fraction of Io's area with a value."""
        lat = np.linspace(-90 + self.cell_deg / 2, 90 - self.cell_deg / 2, self.value.shape[0])
        w = np.cos(np.radians(lat))[:, None] * np.ones(self.value.shape)
        return float(np.sum(w * np.isfinite(self.value)) / np.sum(w))


@dataclass
class MosaicResult:
    """Mosaics and the frames left out (product ID, reason)."""

    mosaics: list[Mosaic] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    n_candidates: int = 0


def _run_kernels(runs: pd.DataFrame) -> dict[int, str | None]:
    out = {}
    for rid, params in zip(runs["id"], runs["parameters"], strict=True):
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except json.JSONDecodeError:
                params = {}
        k = (params or {}).get("kernels") if isinstance(params, dict) else None
        out[int(rid)] = str(k) if k else None
    return out


def _nan_gradient(a: np.ndarray, axis: int) -> np.ndarray:
    """Per-pixel difference to the next pixel along ``axis``: the mean of the forward and backward
    differences where both exist, the one that exists at the disk's edge."""
    fwd = np.diff(a, axis=axis, append=np.nan)
    bwd = np.diff(a, axis=axis, prepend=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(
            np.isfinite(fwd) & np.isfinite(bwd), 0.5 * (fwd + bwd), np.where(np.isfinite(fwd), fwd, bwd)
        )


def _samples(values: np.ndarray, bp, cell_deg: float, emission_max_deg: float):
    """(lat °N, lon °W, value, footprint km, emission °) of the seen pixels, each sub-sampled n × n times
    where its footprint spans n cells of the grid (in latitude or longitude degrees, so the narrow polar
    cells and the foreshortened limb are filled too)."""
    e = bp["emission_deg"]
    seen = bp.on_disk & np.isfinite(values) & (e < emission_max_deg)
    if not seen.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        foot_km = bp["pixel_scale_km"] / np.cos(np.radians(e))
    u = iobody.direction_from_lat_pc_lon_w(bp["lat_pc_deg"], bp["lon_w_deg"])
    g_line = np.stack([_nan_gradient(u[..., k], 0) for k in range(3)], -1)
    g_samp = np.stack([_nan_gradient(u[..., k], 1) for k in range(3)], -1)
    lat, lon = bp["lat_deg"], bp["lon_w_deg"]
    d_lat = np.abs(_nan_gradient(lat, 0)) + np.abs(_nan_gradient(lat, 1))
    d_lon = sum(np.abs((_nan_gradient(lon, ax) + 180.0) % 360.0 - 180.0) for ax in (0, 1))
    extent = np.fmax(d_lat, d_lon)
    n_pix = np.clip(np.ceil(np.nan_to_num(extent, nan=MAX_SUBSAMPLE * cell_deg) / cell_deg), 1, MAX_SUBSAMPLE)
    n_pix = n_pix.astype(int)
    out = []
    for n in np.unique(n_pix[seen]):
        sel = seen & (n_pix == n)
        if n == 1:
            out.append((lat[sel], lon[sel], values[sel], foot_km[sel], e[sel]))
            continue
        off = (np.arange(n) + 0.5) / n - 0.5
        dl, ds = (x.ravel() for x in np.meshgrid(off, off, indexing="ij"))
        vec = (
            u[sel][:, None, :]
            + dl[None, :, None] * np.nan_to_num(g_line[sel])[:, None, :]
            + ds[None, :, None] * np.nan_to_num(g_samp[sel])[:, None, :]
        ).reshape(-1, 3)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        lat_pc = iobody.vector_to_lat_pc_deg(vec)
        lon_s = iobody.vector_to_lon_w_deg(vec)
        lat_s = iobody.vector_to_lat_pg_deg(iobody.surface_point_from_lat_pc(lat_pc, lon_s))
        k = n * n
        out.append(
            (lat_s, lon_s, np.repeat(values[sel], k), np.repeat(foot_km[sel], k), np.repeat(e[sel], k))
        )
    return tuple(np.concatenate([o[i] for o in out]) for i in range(5))


def _grid(samples: list, cell_deg: float):
    """Grids (value, emission, scale, frame index) from several frames' raw samples (as :func:`_samples`)."""
    if not samples:
        n_lat, n_lon = int(round(180 / cell_deg)), int(round(360 / cell_deg))
        nan = np.full((n_lat, n_lon), np.nan)
        return nan, nan.copy(), nan.copy(), np.full((n_lat, n_lon), -1, dtype=int)
    return _merge([_best_per_cell(s, cell_deg) for s in samples], cell_deg)


def _best_per_cell(s: tuple, cell_deg: float) -> tuple[np.ndarray, ...]:
    """One frame's samples reduced to the best sample per cell: (cell, value, footprint, emission), compact
    dtypes (what a worker sends back)."""
    n_lat, n_lon = int(round(180 / cell_deg)), int(round(360 / cell_deg))
    lat, lon, val, qual, e = s
    i = np.clip(np.floor((lat + 90.0) / cell_deg).astype(np.int64), 0, n_lat - 1)
    j = np.clip(np.floor(np.mod(lon, 360.0) / cell_deg).astype(np.int64), 0, n_lon - 1)
    cell = i * n_lon + j
    order = np.lexsort((e, qual, cell))
    first = order[np.unique(cell[order], return_index=True)[1]]
    return (
        cell[first].astype(np.int32),
        val[first].astype(np.float32),
        qual[first].astype(np.float32),
        e[first].astype(np.float32),
    )


def _frame_task(args) -> tuple[str, str | None, str, list]:
    """Re-read, re-navigate and sample one frame: (product ID, reason left out or None, instrument,
    [(band, best-per-cell arrays)])."""
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame

    pid, path, kernels, stored, bands, cell_deg, emission_max_deg, max_offset_diff_px = args
    try:
        frame = read_product(Path(path))
        wanted = [b for b in frame.bands.values() if b.band in bands]
        if not wanted:
            return pid, None, frame.instrument, []
        nav = navigate_frame(frame, kernels=Path(kernels) if kernels else None, register=True)
    except IoscanError as exc:
        return pid, str(exc), "", []
    if not nav.registered:
        return pid, "not registered when re-navigated", frame.instrument, []
    diff = float(np.max(np.abs(np.asarray(nav.offset_px) - np.asarray(stored))))
    if diff > max_offset_diff_px:
        return pid, f"re-registration differs from the stored offset by {diff:.1f} px", frame.instrument, []
    out = []
    for band in wanted:
        bp = nav.backplanes.get(band.band)
        s = (
            None
            if bp is None
            else _samples(band.spectral_radiance_w_m2_sr_um().astype(float), bp, cell_deg, emission_max_deg)
        )
        if s is not None:
            out.append((band.band, _best_per_cell(s, cell_deg)))
    return pid, None, frame.instrument, out


def _merge(frames: list[tuple], cell_deg: float):
    """The best of several frames' best-per-cell arrays: (value, emission, scale, frame index) grids."""
    n_lat, n_lon = int(round(180 / cell_deg)), int(round(360 / cell_deg))
    value = np.full((n_lat, n_lon), np.nan)
    emis = np.full((n_lat, n_lon), np.nan)
    scale = np.full((n_lat, n_lon), np.nan)
    index = np.full((n_lat, n_lon), -1, dtype=int)
    cell = np.concatenate([f[0] for f in frames]).astype(np.int64)
    val = np.concatenate([f[1] for f in frames]).astype(float)
    qual = np.concatenate([f[2] for f in frames]).astype(float)
    e = np.concatenate([f[3] for f in frames]).astype(float)
    frame = np.concatenate([np.full(len(f[0]), k) for k, f in enumerate(frames)])
    order = np.lexsort((e, qual, cell))  # by cell, then finest footprint, then lowest emission
    first = order[np.unique(cell[order], return_index=True)[1]]
    flat = cell[first]
    value.ravel()[flat] = val[first]
    emis.ravel()[flat] = e[first]
    scale.ravel()[flat] = qual[first] * np.cos(np.radians(e[first]))
    index.ravel()[flat] = frame[first]
    return value, emis, scale, index


def mosaic_frames(
    observations: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    bands=("M", "Ms"),
    cell_deg: float = 0.5,
    emission_max_deg: float = 80.0,
    max_offset_diff_px: float = 1.0,
    workers: int = 2,
) -> MosaicResult:
    """Mosaics of every registered observation in ``observations`` (module docstring); frames are processed
    in ``workers`` processes (CSPICE is not thread-safe; ≤ 1: in this process)."""
    result = MosaicResult()
    kernels_of = _run_kernels(runs) if not runs.empty else {}
    registered = observations["registered"].fillna(False).astype(bool)
    result.left_out += [(str(p), "not registered") for p in observations.loc[~registered, "product_id"]]
    result.n_candidates = len(observations)
    tasks = []
    for row in observations[registered].itertuples():
        pid = str(row.product_id)
        path = Path(str(row.file_path)) if row.file_path else None
        if path is None or not path.exists():
            result.left_out.append((pid, f"product file {path} is missing"))
            continue
        run_id = getattr(row, "run_id", None)
        kernels = kernels_of.get(int(run_id)) if run_id is not None and np.isfinite(float(run_id)) else None
        if kernels and not Path(kernels).exists():
            result.left_out.append((pid, f"kernels {kernels} are missing"))
            continue
        stored = (float(row.pointing_offset_sample_px or 0.0), float(row.pointing_offset_line_px or 0.0))
        tasks.append(
            (pid, str(path), kernels, stored, tuple(bands), cell_deg, emission_max_deg, max_offset_diff_px)
        )
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_frame_task, tasks, chunksize=max(1, len(tasks) // (4 * workers))))
    else:
        done = [_frame_task(t) for t in tasks]
    collected: dict[tuple[str, str], list] = {}
    names: dict[tuple[str, str], list[str]] = {}
    for pid, reason, instrument, per_band in done:
        if reason is not None:
            result.left_out.append((pid, reason))
        for band, arrays in per_band:
            collected.setdefault((instrument, band), []).append(arrays)
            names.setdefault((instrument, band), []).append(pid)
    for key, frames in sorted(collected.items()):
        value, emis, scale, index = _merge(frames, cell_deg)
        result.mosaics.append(Mosaic(key[0], key[1], cell_deg, value, emis, scale, index, names[key]))
    return result
