"""Cross-identify hot spots with reference catalogues (JIRAM, USGS, ground-based lists).

For each catalogue separately, a hot spot and a catalogue entry are a candidate pair when their
separation is consistent with the joint 1σ error (hot-spot error ⊕ catalogue error, isotropic on
Io's mean sphere, R = 1821.49 km) under the same 2-D χ² gate as :mod:`ioscan.track.associate`. Pairs
are then made one-to-one by a minimum-cost assignment (``scipy.optimize.linear_sum_assignment``,
cost χ²); a hot spot left over whose candidates were all taken by better matching hot spots still
gets its best candidate, marked ``unique=False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.errors import CatalogError
from ioscan.track._common import DEG, finite_float, km_errors, require_columns, unit_vectors
from ioscan.track.associate import chi2_gate

if TYPE_CHECKING:
    from ioscan.track.config import TrackConfig

R_KM = IO_MEAN_RADIUS_KM
CROSSID_COLUMNS = ["hotspot_id", "catalog", "ref_id", "name", "separation_km", "separation_sigma", "unique"]
_NO_PAIR = 1e12


def _ref_sigma_km(reference: pd.DataFrame, ref_err_deg) -> np.ndarray:
    """Isotropic 1σ of each reference entry in km: its own lat_err_deg, else ``ref_err_deg``."""
    n = len(reference)
    if isinstance(ref_err_deg, pd.Series):
        if ref_err_deg.index.isin(reference["catalog"].unique()).any():  # per catalogue
            default = pd.to_numeric(reference["catalog"].map(ref_err_deg), errors="coerce").to_numpy(float)
        else:  # per row
            default = pd.to_numeric(ref_err_deg.reindex(reference.index), errors="coerce").to_numpy(float)
    else:
        default = np.full(n, float(ref_err_deg))
    own = (
        pd.to_numeric(reference["lat_err_deg"], errors="coerce").to_numpy(float)
        if "lat_err_deg" in reference.columns
        else np.full(n, np.nan)
    )
    err = np.where(np.isfinite(own), own, default)
    if not np.all(np.isfinite(err) & (err >= 0)):
        bad = reference.loc[~(np.isfinite(err) & (err >= 0)), "ref_id"].tolist()[:5]
        raise CatalogError(
            f"cross_identify(reference): no position error for ref_id {bad} (give lat_err_deg or ref_err_deg)"
        )
    return err * DEG * R_KM


def cross_identify(
    hotspots: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    n_sigma: float = 3.0,
    ref_err_deg: float | pd.Series = 1.0,
) -> pd.DataFrame:
    """Best consistent catalogue entry per hot spot and catalogue.

    Args:
        hotspots: ``hotspot_id``, ``lat_deg`` (planetographic °N), ``lon_w_deg``, ``lat_err_deg``,
            ``lon_err_deg`` (degrees of longitude), as returned by :func:`~ioscan.track.associate.associate`.
        reference: ``catalog``, ``ref_id``, ``name``, ``lat_deg``, ``lon_w_deg`` and optional
            ``lat_err_deg`` (1σ, degrees of arc, used for both axes).
        n_sigma: gate on the joint separation (Gaussian n-sigma probability of the 2-D χ²).
        ref_err_deg: 1σ catalogue position error in degrees where a row has no ``lat_err_deg``: one
            number, a Series indexed by catalogue name (e.g. ``{"davies2024": 1.0, "usgs": 2.0}``), or a
            Series aligned with ``reference``'s index. Published JIRAM positions are good to ~1°,
            USGS/ground-based ones to ~2°.

    Returns:
        DataFrame with ``CROSSID_COLUMNS``: one row per hot spot and catalogue that has a consistent
        entry; ``separation_sigma`` = separation / joint 1σ; ``unique`` False when the entry was
        already taken one-to-one by another hot spot.
    """
    require_columns(
        hotspots,
        ["hotspot_id", "lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg"],
        "cross_identify(hotspots)",
    )
    require_columns(reference, ["catalog", "ref_id", "lat_deg", "lon_w_deg"], "cross_identify(reference)")
    if len(hotspots) == 0 or len(reference) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CROSSID_COLUMNS})
    rsig = _ref_sigma_km(reference, ref_err_deg)
    ref = reference.reset_index(drop=True)
    hid = hotspots["hotspot_id"].to_numpy()
    hlat = finite_float(hotspots, "lat_deg", "cross_identify(hotspots)", ids=hid)
    hlon = finite_float(hotspots, "lon_w_deg", "cross_identify(hotspots)", ids=hid)
    sn, se = km_errors(hlat, hotspots["lat_err_deg"], hotspots["lon_err_deg"])
    hsig = np.sqrt(np.nan_to_num(0.5 * (sn**2 + se**2), nan=0.0))
    hu = unit_vectors(hlat, hlon)
    rlat = finite_float(ref, "lat_deg", "cross_identify(reference)", ids=ref["ref_id"].to_numpy())
    rlon = finite_float(ref, "lon_w_deg", "cross_identify(reference)", ids=ref["ref_id"].to_numpy())
    ru = unit_vectors(rlat, rlon)
    thr = chi2_gate(n_sigma)
    names = ref["name"].to_numpy(dtype=object) if "name" in ref.columns else np.full(len(ref), None)
    ref_ids = ref["ref_id"].to_numpy(dtype=object)

    rows = []
    for cat in sorted(ref["catalog"].astype(str).unique()):
        ci = np.flatnonzero(ref["catalog"].astype(str).to_numpy() == cat)
        # candidate pairs: within the largest possible gate radius
        rmax_km = np.sqrt(thr * (hsig.max() ** 2 + rsig[ci].max() ** 2))
        chord = 2.0 * np.sin(min(rmax_km / R_KM, np.pi) / 2.0)
        pairs = cKDTree(hu).query_ball_tree(cKDTree(ru[ci]), chord)
        hi = np.repeat(np.arange(len(hu)), [len(p) for p in pairs])
        if len(hi) == 0:
            continue
        rj = ci[np.concatenate([np.asarray(p, dtype=np.int64) for p in pairs])]
        sep = (
            np.arctan2(
                np.linalg.norm(np.cross(hu[hi], ru[rj]), axis=1), np.einsum("ij,ij->i", hu[hi], ru[rj])
            )
            * R_KM
        )
        sig = np.sqrt(hsig[hi] ** 2 + rsig[rj] ** 2)
        chi2 = (sep / sig) ** 2
        ok = chi2 <= thr
        hi, rj, sep, sig, chi2 = hi[ok], rj[ok], sep[ok], sig[ok], chi2[ok]
        if len(hi) == 0:
            continue
        uh, hpos = np.unique(hi, return_inverse=True)
        ur, rpos = np.unique(rj, return_inverse=True)
        cost = np.full((len(uh), len(ur)), _NO_PAIR)
        cost[hpos, rpos] = chi2
        a, b = linear_sum_assignment(cost)
        keep = cost[a, b] < _NO_PAIR
        chosen = {int(uh[x]): int(ur[y]) for x, y in zip(a[keep], b[keep], strict=True)}
        # leftovers: best candidate, not unique
        order = np.lexsort((rj, chi2, hi))
        first = np.ones(len(order), dtype=bool)
        first[1:] = hi[order][1:] != hi[order][:-1]
        best = {int(hi[o]): int(rj[o]) for o in order[first]}
        lookup = {(int(h), int(r)): (s, g) for h, r, s, g in zip(hi, rj, sep, sig, strict=True)}
        for h in uh:
            h = int(h)
            unique = h in chosen
            r = chosen[h] if unique else best[h]
            s, g = lookup[(h, r)]
            rows.append((hid[h], cat, ref_ids[r], names[r], float(s), float(s / g), unique))
    out = pd.DataFrame(rows, columns=CROSSID_COLUMNS)
    return out.sort_values(["hotspot_id", "catalog"], kind="stable").reset_index(drop=True)


def _label(catalog: str, ref_id) -> str:
    """A self-describing reference ID: JRM IDs as they are, PSJ Table 10 ranks as "PSJ#308"."""
    return f"PSJ#{ref_id}" if catalog == "davies2024_psj" else str(ref_id)


def hotspot_names(cross: pd.DataFrame, preference: tuple[str, ...]) -> dict[str, str]:
    """Best name per hot spot: a published name from the preferred catalogue that has one, else the preferred
    catalogue's reference ID."""
    names: dict[str, str] = {}
    if cross.empty:
        return names
    ranked = cross.assign(rank=cross["catalog"].map({c: i for i, c in enumerate(preference)}).fillna(99))
    ranked = ranked.sort_values("rank", kind="stable")
    has_name = ranked["name"].map(lambda n: isinstance(n, str) and bool(n.strip()))
    first = ranked.drop_duplicates("hotspot_id")
    for hs, cat, ref in zip(first["hotspot_id"], first["catalog"], first["ref_id"], strict=True):
        names[hs] = _label(cat, ref)
    named = ranked[has_name.to_numpy()].drop_duplicates("hotspot_id")
    names.update(zip(named["hotspot_id"], named["name"], strict=True))
    return names


def cross_identify_all(hotspots: pd.DataFrame, cfg: TrackConfig | None = None) -> pd.DataFrame:
    """Cross-IDs of ``hotspots`` against every shipped reference catalogue."""
    from ioscan.catalog.reference import reference_catalogs
    from ioscan.track.config import TrackConfig

    cfg = cfg or TrackConfig()

    frames = []
    for name, ref in reference_catalogs().items():
        if ref.empty or hotspots.empty:
            continue
        frames.append(cross_identify(hotspots, ref, ref_err_deg=cfg.reference_err_deg.get(name, 2.0)))
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=["hotspot_id", "catalog", "ref_id", "name", "separation_km", "separation_sigma"]
        )
    )
