"""The rows a scan's workers make without SQLAlchemy (:mod:`ioscan.catalog.rows`) agree with the schema."""

import math

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ioscan.catalog import rows, store
from ioscan.catalog import schema as sch


def test_detection_float_fields_are_the_schemas_float_columns():
    schema_floats = {c.name for c in sch.detections.columns if isinstance(c.type, sa.Float)}
    assert rows.detection_float_fields() == schema_floats & set(rows.DETECTION_FIELDS)
    assert len(rows.detection_float_fields()) > 20  # positions, fluxes, errors, geometry


def test_clean_as_before():
    assert rows._clean(pd.NA) is None and rows._clean(pd.NaT) is None and rows._clean(None) is None
    assert rows._clean(np.float32(1.5)) == 1.5 and type(rows._clean(np.int64(3))) is int
    assert rows._clean(float("nan")) is None and rows._clean(math.inf) is None
    assert rows._clean("x") == "x"


def test_store_keeps_its_names():
    assert store.product_rows is rows.product_rows and store.ProductRows is rows.ProductRows
    assert store.Store._observation_row is rows.observation_row
    assert sch.PRODUCT_KEY_LENGTH == rows.PRODUCT_KEY_LENGTH == 256


def _tricky_detections():
    """Detections holding what a record may hold beside Python floats: numpy scalars, NaN and inf, None,
    pandas' NA, ints and bools in float fields, an IntFlag, numpy ints, a NaN deep in ``extra``."""
    from catalog_helpers import make_detection

    from ioscan.records import DetectionFlag

    return [
        make_detection(0),
        make_detection(
            1, snr=np.float32(12.3), peak=np.float64(0.25), lat_deg=float("nan"), lon_w_deg=math.inf
        ),
        make_detection(2, background=pd.NA, range_km=3, pixel_scale_km=True, flags=DetectionFlag.SATURATED),
        make_detection(3, n_pixels=np.int64(7), flags=None, extra={}),
        make_detection(
            4,
            extra={"a": np.float32(0.1), "b": [1.0, float("nan")], "c": {"d": -math.inf, 5: "x"}, "e": None},
        ),
        make_detection(5, flags=np.int32(3), n_pixels=True, extra={"p": np.arange(3), "q": (1, 2.5)}),
    ]


def _row_by_row(product, dets):
    """The rows as :func:`rows._detection_row` makes them one by one, ``extra`` as JSON text."""
    made = [rows._detection_row(d) for d in dets]
    rows._check_text(product, made)
    return [tuple(dict(r, extra=rows.json_text(r["extra"])).values()) for r in made]


def _same(a, b) -> bool:
    """Equal values of the same types (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_detection_rows_made_by_columns_are_those_made_row_by_row():
    """The catalogue's detection rows are made column by column (numpy for the float columns): the same
    values, of the same Python types, as converting each detection in turn, on values of every kind a
    record may hold (and the float columns of plain floats and None, the numpy path, on their own)."""
    dets = _tricky_detections()
    for subset in (dets, dets[:1], [dets[0], dets[3]], dets[1:2], []):
        got = rows._detection_values("P", subset, [])
        assert _same(got, _row_by_row("P", subset))
    made = rows.product_rows(_summary(), [], dets)
    assert made.detection_columns == rows.DETECTION_FIELDS
    assert _same(made.detection_values, _row_by_row("P", dets))
    assert made.detection_values[1][rows.DETECTION_FIELDS.index("lat_deg")] is None  # NaN: NULL
    assert made.detection_values[3][rows.DETECTION_FIELDS.index("flags")] == 0  # None: 0


def _summary(**kw):
    from catalog_helpers import summary

    return summary(1, **kw)


def test_text_that_is_not_utf8_is_reported_as_before():
    """The text check of the detection rows, all their text at once, names the same field and value as
    checking row by row; the observation's own bad text first, as before."""
    import pytest
    from catalog_helpers import make_detection

    from ioscan.errors import CatalogError

    bad = "W m-2 \udcff"
    dets = [make_detection(0), make_detection(1, unit=bad), make_detection(2, band="\udc80")]
    with pytest.raises(CatalogError) as new:
        rows.product_rows(_summary(), [], dets)
    with pytest.raises(CatalogError) as old:
        _row_by_row(_summary().product_id, dets)
    assert str(new.value) == str(old.value) and "unit 'W m-2 \\\\xff'" in str(new.value)
    with pytest.raises(CatalogError, match="file_path"):
        rows.product_rows(_summary(file_path="/data/\udcff.IMG"), [], dets)
    with pytest.raises(CatalogError, match="expected a Detection record, got dict"):
        rows.product_rows(_summary(), [], [make_detection(0), {"band": "M"}])
