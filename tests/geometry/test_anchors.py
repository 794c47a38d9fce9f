"""Anchor tables: the shipped published hot spots, a user's table, the detections of a registered frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR, davies2024_jiram, davies2024_psj
from ioscan.geometry.anchors import (
    KM_PER_DEG,
    AnchorTableError,
    anchors_from_detections,
    load_anchors,
    read_anchor_table,
    shipped_anchors,
)


def test_shipped_anchors_merge_the_two_davies_tables_once():
    a = shipped_anchors()
    psj, jrm = davies2024_psj(), davies2024_jiram()
    assert a["anchor_id"].is_unique
    # every PSJ Table 10 source, plus the JIRAM sources it lacks (by number and by position)
    assert len(psj) < len(a) < len(psj) + len(jrm)
    loki = a[a.anchor_id == "PSJ343"].iloc[0]
    row = psj[psj["rank"] == 343].iloc[0]
    assert (loki.lat_deg, loki.lon_w_deg) == (row.lat_deg, row.lon_w_deg)
    assert np.allclose(a.sigma_km, PUBLISHED_POSITION_ERROR.core_deg * KM_PER_DEG)
    assert np.allclose(a.tail_fraction, PUBLISHED_POSITION_ERROR.tail_fraction)
    assert (a.shared_sigma_km == 0).all()


def test_shipped_anchors_carry_their_catalogue_m_power():
    """Table S1's average M power where the source has one (variability σ alone); Table 10's power × the
    M-per-power ratio otherwise (with that ratio's scatter too)."""
    from ioscan.geometry.detectability import M_PER_POWER_UM, VARIABILITY_SIGMA_LN

    a = shipped_anchors().set_index("anchor_id")
    psj, jrm = davies2024_psj(), davies2024_jiram()
    assert np.isfinite(a.m_power_gw_um).all() and (a.m_power_gw_um > 0).all()
    s1 = jrm.set_index("ref_id").avg_unsaturated_spectral_power_gw_um
    with_s1 = [i for i in a.index if i in s1.index]
    assert len(with_s1) > 100
    assert np.allclose(a.loc[with_s1, "m_power_gw_um"], s1.loc[with_s1])
    assert np.allclose(a.loc[with_s1, "m_power_sigma_ln"], VARIABILITY_SIGMA_LN)
    only_power = psj[psj.jrm_id.isna()]
    ids = [f"PSJ{int(r):03d}" for r in only_power["rank"]]
    assert np.allclose(a.loc[ids, "m_power_gw_um"], M_PER_POWER_UM * only_power.power_gw.to_numpy())
    assert (a.loc[ids, "m_power_sigma_ln"] > VARIABILITY_SIGMA_LN).all()


def test_a_table_may_give_m_power(tmp_path):
    path = tmp_path / "bright.csv"
    path.write_text("lat_deg,lon_w_deg,position_err_km,m_power_gw_um\n10,20,3,2.5\n11,21,3,\n")
    a = read_anchor_table(path)
    assert a.m_power_gw_um.iloc[0] == 2.5 and np.isnan(a.m_power_gw_um.iloc[1])
    assert a.m_power_sigma_ln.iloc[0] > 0 and np.isnan(a.m_power_sigma_ln.iloc[1])


def test_a_refined_table_from_an_export(tmp_path):
    path = tmp_path / "hotspots.csv"
    pd.DataFrame(
        {
            "hotspot_id": ["IOS00001", "IOS00002"],
            "lat_deg": [10.0, -60.0],
            "lon_w_deg": [-20.0, 300.0],
            "lat_err_deg": [0.1, 0.2],
            "lon_err_deg": [0.1, 0.4],
        }
    ).to_csv(path, index=False)
    a = read_anchor_table(path)
    assert list(a.anchor_id) == ["IOS00001", "IOS00002"]
    assert a.lon_w_deg.tolist() == [340.0, 300.0]
    # lon_err in degrees of longitude: 0.4° at 60° S is 0.2° on the ground
    assert a.sigma_km.iloc[1] == pytest.approx(0.2 * KM_PER_DEG)
    both = load_anchors(f"shipped+{path}")
    assert len(both) == len(shipped_anchors()) + 2
    assert len(load_anchors("none")) == 0
    assert a.m_power_gw_um.isna().all()  # no brightness given: the matcher's default P_d


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lat_deg,lon_w_deg\n10,20\n", "row 2: no usable position error"),
        ("lat_deg,lon_w_deg,position_err_km\n10,x,3\n", "row 2: lon_w_deg is not a number"),
        ("lat_deg,lon_w_deg,position_err_km\n95,10,3\n", "row 2: lat_deg 95.0 is outside"),
        ("lat,lon\n1,2\n", "lacks column"),
    ],
)
def test_bad_anchor_tables_name_the_file_and_row(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(AnchorTableError, match=message) as exc:
        read_anchor_table(path)
    assert "bad.csv" in str(exc.value)


def test_detections_of_a_registered_frame_share_its_error():
    det = pd.DataFrame(
        {
            "lat_deg": [0.0, 1.0, 2.0],
            "lon_w_deg": [10.0, 11.0, 12.0],
            "lat_err_deg": [0.1, 0.1, 0.1],
            "lon_err_deg": [0.1, 0.1, 0.1],
            "snr": [30.0, 3.0, 12.0],
            "flags": [0, 0, 8],  # a weak one and a cosmic ray are left out
        }
    )
    a = anchors_from_detections(det, "JIR_IMG_X", shared_sigma_km=2.0)
    assert len(a) == 1 and a.group.iloc[0] == "frame:JIR_IMG_X"
    total = 0.1 * KM_PER_DEG
    assert a.sigma_km.iloc[0] == pytest.approx(np.sqrt(total**2 - 4.0))
    assert a.shared_sigma_km.iloc[0] == 2.0
