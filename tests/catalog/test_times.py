"""The catalogue's single time format."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

from ioscan.catalog.times import utc_iso

WANT = "2022-03-04T08:34:55.250000Z"


@pytest.mark.parametrize(
    "value",
    [
        "2022-03-04T08:34:55.25Z",
        "2022-03-04T08:34:55.250",
        "2022-03-04 10:34:55.25+02:00",
        "2022-063T08:34:55.250",
        "2022-063T08:34:55.25Z",
        datetime(2022, 3, 4, 8, 34, 55, 250000),
        datetime(2022, 3, 4, 3, 34, 55, 250000, tzinfo=timezone(timedelta(hours=-5))),
        pd.Timestamp("2022-03-04T08:34:55.25"),
        np.datetime64("2022-03-04T08:34:55.250"),
        Time("2022-03-04T08:34:55.25", scale="utc"),
        Time("2022-03-04T08:36:04.434", scale="tt"),  # TT − UTC = 69.184 s in 2022
    ],
)
def test_forms_agree(value):
    assert utc_iso(value) == WANT


def test_text_order_is_time_order():
    times = [
        "2021-12-31T23:59:59.999999Z",
        "2022-01-01T00:00:00Z",
        "2022-01-01T00:00:00.000001Z",
        "2100-01-01",
    ]
    texts = [utc_iso(t) for t in times]
    assert texts == sorted(texts) and all(len(t) == 27 for t in texts)


@pytest.mark.parametrize("bad", ["", "yesterday", "2022-13-01", None, 12.5])
def test_bad_times(bad):
    with pytest.raises(ValueError):
        utc_iso(bad)
