"""A published catalogue imported without ``band`` or observation ids tracks without crashing (issue 11)."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from ioscan.catalog.io_import import import_detections_csv
from ioscan.track.associate import associate
from ioscan.workflows.track import track_catalog

HEADER = [
    "time_utc",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "wavelength_um",
    "intensity_gw_um_sr",
    "intensity_err_gw_um_sr",
]


def _write(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)


def test_import_then_track_without_band_or_ids(store, tmp_path):
    """Two sites 40° apart seen on three nights: imported (no band, no ids) and tracked into two hot spots."""
    rows = []
    for night, day in enumerate(("2014-08-29", "2014-09-12", "2015-01-03")):
        t = f"{day}T10:12:00Z"
        rows.append([t, 12.8 + 0.3 * night, 308.4 - 0.2 * night, 1.0, 1.2, 3.78, 25.0, 2.5])
        rows.append([t, -10.5 - 0.2 * night, 241.5 + 0.4 * night, 1.2, 1.5, 3.78, 3.0, 0.4])
        rows.append([t, 12.6, 308.9, 1.0, 1.2, 4.67, 20.0, 2.0])
    path = tmp_path / "ao.csv"
    _write(path, rows)
    assert import_detections_csv(store, path, "deKleer2019") == 9
    summary = track_catalog(store)
    assert summary.n_detections_used == 9
    assert summary.n_hotspots == 2
    det = store.detections_frame()
    assert det["hotspot_id"].notna().all()
    assert det.groupby("hotspot_id")["lat_deg"].apply(lambda s: np.ptp(s) < 2.0).all()


def test_associate_without_band_and_observation_ids():
    """``band`` absent or NaN and ``observation_id`` all NaN (pandas 3 keeps NaN through ``astype(str)``)."""
    det = pd.DataFrame(
        {
            "detection_id": [1, 2, 3, 4],
            "time_utc": ["2014-08-29T10:12:00Z"] * 2 + ["2014-09-12T09:00:00Z"] * 2,
            "lat_deg": [12.8, -10.5, 13.0, -10.3],
            "lon_w_deg": [308.4, 241.5, 308.1, 241.9],
            "lat_err_deg": [1.0] * 4,
            "lon_err_deg": [1.2] * 4,
            "observation_id": [np.nan] * 4,
        }
    )
    for frame in (det, det.assign(band=np.nan), det.assign(band=[None, "Lp", np.nan, "Ms"])):
        res = associate(frame)
        assert res.hotspot_id.nunique() == 2
        assert res.hotspot_id.iloc[0] == res.hotspot_id.iloc[2]
        assert isinstance(res.hotspots["bands"].iloc[0], str)


def test_rows_of_one_image_are_two_sources_but_dates_alone_are_not():
    """Imported rows sharing observer, time and band come from one image: two sources there are two hot
    spots, however close; rows dated to the day only (0 h UTC) may come from several images."""
    base = {
        "lat_deg": [10.0, 10.3],
        "lon_w_deg": [100.0, 100.2],
        "lat_err_deg": [1.5, 1.5],
        "lon_err_deg": [1.5, 1.5],
        "band": ["3.78um", "3.78um"],
        "observer": ["Keck", "Keck"],
        "source": ["deKleer2019", "deKleer2019"],
    }
    one_image = pd.DataFrame({**base, "time_utc": ["2015-01-01T10:12:00Z"] * 2})
    assert associate(one_image).hotspot_id.nunique() == 2
    dated = pd.DataFrame({**base, "time_utc": ["2015-01-01T00:00:00Z"] * 2})
    assert associate(dated).hotspot_id.nunique() == 1
    two_images = pd.DataFrame({**base, "time_utc": ["2015-01-01T10:12:00Z", "2015-01-01T10:30:00Z"]})
    assert associate(two_images).hotspot_id.nunique() == 1
