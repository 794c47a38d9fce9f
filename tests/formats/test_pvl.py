"""formats.pvl: a PDS3 label's values made as pdr makes them (literalize_pvl, read_pvl), the plain forms
directly: the same values and types, on tricky texts, random texts and whole labels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from multidict import MultiDict
from pdr.parselabel import pds3 as pdr_pds3

from ioscan.formats import pvl
from ioscan.formats.jiram_pds3 import write_jiram_rdr
from ioscan.records import LabelGeometry


def _deep(value):
    """A value's exact form: types, float bits (−0.0, NaN), nested blocks and their order."""
    if isinstance(value, MultiDict):
        return ("MultiDict", [(k, _deep(v)) for k, v in value.items()])
    if isinstance(value, dict):
        return ("dict", [(k, _deep(v)) for k, v in value.items()])
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_deep(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(map(repr, value)))
    return (type(value).__name__, repr(value))


def _quiet(make, text):
    with warnings.catch_warnings():  # literal_eval of a text with a backslash warns of its escape
        warnings.simplefilter("ignore")
        return make(text)


def _pdr(text):
    return _quiet(pdr_pds3.literalize_pvl, text)


def _ours(text):
    return _quiet(pvl.literalize, text)


TRICKY = [
    # quoted text
    '"abc"', '""', '"a b,c <d>"', '"with \\" escape"', '"tab\there"', '"é"', '"a"b"', '"a" "b"', "'sym'",
    '"unterminated', '"True"', '"{1, 2}"',
    # integers
    "0", "1", "-0", "+5", "-17", "007", "00", "1_000", "123456789012345678901234567890", "0x1F", "1j",
    # floats
    "1.", ".5", "-.5", "+.5", "1.5", "-0.0", "+0.0", "0.0", "1e5", "1E-3", "-2.5e+10", "1e999", "-1e999",
    "5e", "e5", "1.2.3", "1e5.5", "0012.5", "007e3", "1.5e-400", "1__0", "1.5_0", ".", "-", "+", "--5",
    # names, constants, keywords
    "PDS3", "JUNO", "SCI_I2_S1", "_x", "True", "False", "None", "class", "lambda", "not", "__debug__", "N/A",
    "NULL", "UNK", "a.b", "a-b", "x1", "1x",
    # times
    "2017-03-26T18:13:26.901134", "2017-03-26T18:13:26", "2017-03-26T18:13", "2017-03-26T18:13:26Z",
    "2017-03-26", "2017-085T18:13:26",
    # quantities
    "0.197 <s>", "1.01 <W/(m^2*sr)>", "5 <km>", "-3.2e5 <degree>", "1.5e+5 <km>", "007 <km>", "+5 <s>",
    "1.5 <>", "1.5<km>", "1.5  <km>", "NULL <km>", "a <b>", "1 <a,b>", "(1 <B>)", "1 <a> <b>", "1 <a>>",
    '("a.dat", 1000 <BYTES>)', "-.5 <km>", ".5e3 <m/s>", "5. <km>", "1 <#>", "1 <\\>", "1 <'>",
    # collections and other numbers
    "(1, 2)", "{1, 2}", '{"a", "b"}', "(a, b)", "{a, b}", "16#FF#", "2#101#", "-16#FF#", "(16#FF#, 2#1#)",
    "", " ", " 5", "5 ", "[1, 2]",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_literalize_is_pdrs_on_tricky_texts(text):
    assert _deep(_ours(text)) == _deep(_pdr(text))


def test_literalize_is_pdrs_on_random_texts():
    """Random texts of the characters the plain forms are made of (and those that break them), and random
    numbers written as labels write them, with and without units."""
    rng = np.random.default_rng(20261207)
    alphabet = list('0123456789.eE-+ "<>kmsT:_Az#(){},\\/é') + ["<km>", "1.5", "T12:00:00", '"'] * 3
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 9))) for _ in range(20000)]
    for x in rng.normal(0.0, 1.0, 2000) * 10.0 ** rng.integers(-30, 30, 2000):
        whole = str(int(x)) if abs(x) < 1e18 else ""
        texts += [repr(float(x)), f"{x:.6e}", f"{x:.3f}", f"{x:.17g} <km>", whole]
    differ = [t for t in texts if _deep(_ours(t)) != _deep(_pdr(t))]
    assert not differ, differ[:10]


def _labels(tmp_path):
    from real_label import copy_real

    geom = LabelGeometry(
        sub_observer_lat_deg=3.5, sub_observer_lon_w_deg=200.25, sub_solar_lat_deg=-1.0,
        sub_solar_lon_w_deg=150.0, range_km=350000.0, north_pa_deg=12.0, pixel_scale_km=87.5,
        disk_center_sample=215.75, disk_center_line=60.5,
    )  # fmt: skip
    out = [copy_real(tmp_path / "real")]
    for mode, lines in (("I1", 256), ("I2", 128), ("I3", 128)):
        out.append(
            write_jiram_rdr(
                tmp_path / mode,
                product_id="JIR_IMG_RDR_2022063T083455_V01",
                mode=mode,
                image=np.zeros((lines, 432), dtype=np.float32),
                start_time_utc="2022-03-04T08:34:55.100",
                stop_time_utc="2022-03-04T08:34:55.112",
                sclk_start="1/699654937:00105",
                orbit=41,
                exposure_s=0.012,
                label_geometry=geom,
                spice_file_names=["a.bc", "b.bsp"],
            )
        )
    return out


def test_read_pvl_is_pdrs(tmp_path):
    """The whole label (values, blocks, their order, the keys) as pdr's read_pvl gives it."""
    from pdr.parselabel.utils import DEFAULT_PVL_LIMIT

    for lbl in _labels(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = pdr_pds3.read_pvl(str(lbl.absolute()), max_size=DEFAULT_PVL_LIMIT)
        ours = pvl.read_pvl(str(lbl.absolute()), DEFAULT_PVL_LIMIT)
        assert ours[1] == theirs[1]
        assert _deep(ours[0]) == _deep(theirs[0])


def test_most_label_values_are_made_without_pdr(tmp_path, monkeypatch):
    """The point of it: pdr's literalize_pvl (literal_eval, ~10 µs a value) is left only the rare forms."""
    from pdr.parselabel.utils import DEFAULT_PVL_LIMIT

    calls = []
    real = pdr_pds3.literalize_pvl
    monkeypatch.setattr(pdr_pds3, "literalize_pvl", lambda obj: calls.append(obj) or real(obj))
    values = 0
    for lbl in _labels(tmp_path)[1:]:  # the simulator's labels
        mapping, _ = pvl.read_pvl(str(lbl.absolute()), DEFAULT_PVL_LIMIT)
        stack = [mapping]
        while stack:
            for v in stack.pop().values():
                if isinstance(v, MultiDict):
                    stack.append(v)
                else:
                    values += 1
    assert values > 100
    assert len(calls) < 0.1 * values, calls


def _label_lines(lbl):
    import re

    text = re.sub(r"/\*.*?(\r|\n|/\*)", "\n", lbl.read_text(errors="replace"))
    return [line.strip() for line in text.split("\n") if line.strip()]


def test_chunk_statements_is_pdrs(tmp_path):
    """The statements of whole labels and of random lines (assignments, block ends, continuation lines,
    lower case, several '=' on a line, text before the first assignment) as pdr chunks them."""
    for lbl in _labels(tmp_path):
        lines = _label_lines(lbl)
        assert pvl.chunk_statements(lines) == pdr_pds3.chunk_statements(lines)
    rng = np.random.default_rng(7)
    pieces = [
        "A = 1", "KEY = \"text", "more text\"", "END", "END_OBJECT = IMAGE", "END_OBJECT", "END_GROUP = G",
        "OBJECT = IMAGE", "lower = 2", "Mixed_Case = 3", "A = B = C", "x", "continued,", "ENDING = 4",
        "GROUP = G", "(1,", "2)", "NAME_LONGER_THAN_8 = 5", "=", "= 6", "END_OBJECTS", "\"quoted = no\"",
    ]  # fmt: skip
    for _ in range(3000):
        lines = list(rng.choice(pieces, size=rng.integers(0, 12)))
        assert pvl.chunk_statements(lines) == pdr_pds3.chunk_statements(lines), lines
