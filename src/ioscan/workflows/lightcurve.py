"""``ioscan lightcurve``: one hot spot's light curve in one band, its variability statistics, its events and
a Lomb–Scargle periodogram (the CLI prints and plots what :func:`hotspot_lightcurve` returns)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ioscan.errors import CatalogError

#: fewest points for a period search
MIN_POINTS_FOR_PERIODS = 5


@dataclass
class HotspotLightcurve:
    """A hot spot's light curve and what is known about it.

    Attributes:
        hotspot_id, band: which light curve.
        points: detections in time order; ``value``/``err`` are the foreshortening-corrected spectral
            intensity and its 1σ error, GW µm⁻¹ sr⁻¹.
        stats: variability statistics (:func:`ioscan.track.lightcurve.variability_stats`).
        events: the hot spot's events in this band.
        periodogram: Lomb–Scargle result, or None with fewer than :data:`MIN_POINTS_FOR_PERIODS` points.
        title: a plot title naming the hot spot, its best cross-ID and position (°N, °W).
    """

    hotspot_id: str
    band: str
    points: pd.DataFrame
    stats: dict
    events: pd.DataFrame
    periodogram: object | None
    title: str


def hotspot_lightcurve(
    store, hotspot_id: str, band: str, *, min_period_d: float = 2.0, max_period_d: float = 1000.0
) -> HotspotLightcurve:
    """The light curve of ``hotspot_id`` in ``band`` from ``store``; CatalogError when it has no points."""
    from ioscan.track.lightcurve import variability_stats
    from ioscan.track.periodogram import periodogram

    lc = store.lightcurve(hotspot_id, band)
    if lc.empty:
        raise CatalogError(f"no {band}-band detections of hot spot {hotspot_id} in {store.url}")
    events = store.events_frame()
    spots = store.hotspots_frame()
    lc = lc.rename(columns={"spectral_intensity_gw_um_sr": "value", "spectral_intensity_err_gw_um_sr": "err"})
    ev = (
        events[(events["hotspot_id"] == hotspot_id) & (events["band"] == band)]
        if not events.empty
        else events
    )
    pg = None
    if lc["value"].notna().sum() >= MIN_POINTS_FOR_PERIODS:
        pg = periodogram(lc, min_period_d=min_period_d, max_period_d=max_period_d)
    row = spots[spots["hotspot_id"] == hotspot_id]
    name = f" ({row['name'].iloc[0]})" if not row.empty and isinstance(row["name"].iloc[0], str) else ""
    where = f", {row['lat_deg'].iloc[0]:.1f}°N {row['lon_w_deg'].iloc[0]:.1f}°W" if not row.empty else ""
    title = f"{hotspot_id}{name}{where}, {band} band (foreshortening-corrected)"
    return HotspotLightcurve(hotspot_id, band, lc, variability_stats(lc), ev, pg, title)
