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
