"""A PDS3 label parsed as pdr parses it (``pdr.parselabel.pds3.read_pvl``), its values made faster.

pdr makes each value of a label by ``literalize_pvl``: Python's ``ast.literal_eval`` inside a
``warnings.catch_warnings`` block, and on failure its rules for quantities (``1.5 <km>``), collections and
non-base-10 numbers — ~10 µs a value, ~90 values a JIRAM label, a third of the reader's time. Most values
of a label are of a few plain forms whose value is decided by their text alone: a double-quoted ASCII text
without escapes, a decimal integer or float, a bare name, an ISO time, a number with units.
:func:`literalize` makes those directly (what ``literalize_pvl`` gives them, the same type and value) and
hands every other text to ``literalize_pvl`` itself; :func:`read_pvl` is pdr's ``read_pvl`` with its values
made by it. ``tests/formats/test_pvl.py`` compares both with pdr's, on labels and on random texts.
"""

from __future__ import annotations

import re
from typing import Any

#: a double-quoted text of printable ASCII without a quote or backslash: ``literal_eval`` gives the text
#: between the quotes (no escapes to decode, nothing it could refuse)
_QUOTED = re.compile(r'"[ !#-\[\]-~]*"')
#: a decimal integer as Python writes one (no leading zeros, no underscores): ``literal_eval`` → ``int``,
#: the value ``int()`` gives (a sign is a unary operator on it)
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
#: a decimal float literal (a point or an exponent; leading zeros are allowed in floats): ``literal_eval``
#: → ``float``, the value ``float()`` gives (both round the same decimal text correctly; a sign as above)
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
#: a bare ASCII name: ``literal_eval`` refuses it (a Name or a keyword), and pdr keeps the text as it is
#: (no ``<``, ``>``, and it starts with neither ``(`` nor ``{``) — but for the three names that are
#: constants, left to pdr
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONSTANTS = frozenset({"True", "False", "None"})
#: an ISO date and time: ``literal_eval`` refuses it (``26T18`` is no number), pdr keeps the text
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?Z?")
#: a number and units in angle brackets: ``literal_eval`` refuses it (no expression ends with ``>``: with
#: no quote, ``#`` or backslash nothing hides that last ``>``), and pdr's quantity rule reads it whole (no
#: comma to split at, no bracket at either end to strip)
_QUANTITY = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)? *<[^<>,\"'#\\]*>")


def literalize(value: Any) -> Any:
    """``pdr.parselabel.pds3.literalize_pvl(value)``: the same value and type, the plain forms above made
    directly, everything else by pdr."""
    if type(value) is str:
        if _QUOTED.fullmatch(value):
            return value[1:-1]
        if _NAME.fullmatch(value):
            if value not in _CONSTANTS:
                return value
        elif _INT.fullmatch(value):
            return int(value)
        elif _FLOAT.fullmatch(value):
            return float(value)
        elif _TIME.fullmatch(value):
            return value
        elif _QUANTITY.fullmatch(value):
            return _quantity(value)
    from pdr.parselabel.pds3 import literalize_pvl

    return literalize_pvl(value)


def _quantity(text: str) -> dict:
    """pdr's ``parse_pvl_quantity_object`` of a :data:`_QUANTITY` text (what its quantity statement rule
    makes of a single object), its value and units made by :func:`literalize`."""
    from pdr.parselabel.pds3 import PVL_QUANTITY_UNITS, PVL_QUANTITY_VALUE

    return {
        "value": literalize(re.search(PVL_QUANTITY_VALUE, text).group()),
        "units": literalize(re.search(PVL_QUANTITY_UNITS, text).group(1)),
    }


def chunk_statements(lines) -> list[tuple[str, str]]:
    """``pdr.parselabel.pds3.chunk_statements(lines)``: the label's trimmed lines as (parameter, value)
    statements, a statement starting at each line pdr takes for an assignment or a block's end
    (``is_an_assignment_line``) and running over the lines before the next, the same statements without
    ``more_itertools.split_before``'s generator and a call per line."""
    from pdr.parselabel.pds3 import PVL_BLOCK_TERMINAL

    terminal = PVL_BLOCK_TERMINAL.match
    statements: list[tuple[str, str]] = []
    chunks: list[list[str]] = []
    chunk: list[str] = []
    for line in lines:
        if "=" not in line:
            starts = terminal(line) is not None
        else:
            start = line[:8]
            starts = start == start.upper()
        if starts and chunk:
            chunks.append(chunk)
            chunk = []
        chunk.append(line)
    if chunk:
        chunks.append(chunk)
    for statement in chunks:
        assignment = statement[0]
        end = terminal(assignment)
        if end is not None:
            statements.append((end.group(), ""))
            continue
        try:
            parameter, value_head = map(str.strip, assignment.split("="))
        except ValueError:  # more than one '=' on the line: pdr leaves the statement out
            continue
        value_head += " ".join(map(str.strip, statement[1:]))
        statements.append((parameter, value_head))
    return statements


def _literalize_block(block):
    """``pdr.parselabel.pds3.literalize_pvl_block`` with :func:`literalize`: every value of a (nested)
    MultiDict made, the blocks kept in order."""
    from multidict import MultiDict
    from pdr.parselabel.pds3 import multidict_dig_and_edit

    return multidict_dig_and_edit(
        block,
        None,
        predicate=lambda _k, v, _t: not isinstance(v, MultiDict),
        setter_function=lambda _, obj: literalize(obj),
    )


def read_pvl(filename: str, max_size: int):
    """``pdr.parselabel.pds3.read_pvl(filename, max_size=max_size)`` (pointers de-duplicated, pdr's default
    decoding): (MultiDict of the label's values, the list of its keys), the values by :func:`literalize`."""
    from multidict import MultiDict
    from pdr.formats.checkers import check_special_label
    from pdr.parselabel.pds3 import (
        BlockParser,
        get_pds3_pointers,
        index_duplicate_pointers,
        looks_pvl,
    )
    from pdr.parselabel.utils import trim_label
    from pdr.utils import decompress

    is_special, label = check_special_label(filename)
    if is_special is False:
        with decompress(filename) as stream:
            label = trim_label(stream, max_size, strict_decode=not looks_pvl(filename))
    # pdr.parselabel.pds3.parse_pvl's steps
    uncommented = re.sub(r"/\*.*?(\r|\n|/\*)", "\n", label)
    lines = filter(None, (line.strip() for line in uncommented.split("\n")))
    mapping, params = BlockParser().parse_statements(chunk_statements(lines))
    mapping, params = index_duplicate_pointers(get_pds3_pointers(mapping), mapping, params)
    if isinstance(mapping, MultiDict):
        return _literalize_block(mapping), params
    return literalize(mapping), params
