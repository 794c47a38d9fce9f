"""Claims taken a block at a time answer as one at a time would."""

from __future__ import annotations

from catalog_helpers import BANDS, summary

from ioscan.catalog.claims import Claims
from ioscan.catalog.products import product_key


def _key(n: int) -> str:
    obs = summary(n)
    return product_key(obs.product_id.rsplit("_V", 1)[0], "01", obs.checksum_sha256)


def test_claim_many_matches_claim(store):
    mine = Claims(store, store.start_run("scan", {}))
    other = Claims(store, store.start_run("scan", {}))
    store.add_product(summary(1), BANDS, [])
    assert [c.outcome for c in mine.claim_many([(_key(2), None, None), (_key(3), None, None)])] == [
        "claimed",
        "claimed",
    ]
    answers = other.claim_many([(_key(1), None, None), (_key(2), None, None), (_key(4), None, None)])
    assert [a.outcome for a in answers] == ["stored", "held", "claimed"]
    assert answers[0].detail == summary(1).product_id and "run 1" in answers[1].detail
    assert mine.claim_many([(_key(3), None, None)])[0].outcome == "held"  # already this run's
    assert mine.held() == 2 and other.held() == 1


def _claim_scene(store) -> Claims:
    """A catalogue with one product stored, one claimed by a live scan, one by a scan whose process is
    gone; returns a third scan's claims."""
    store.add_product(summary(1), BANDS, [])
    Claims(store, store.start_run("scan", {})).claim(_key(2))
    dead = Claims(store, store.start_run("scan", {}))
    dead.pid = 2**22 + 12345  # above Linux's largest pid: no such process
    dead.claim(_key(3))
    return Claims(store, store.start_run("scan", {}))


def test_a_block_of_claims_answers_what_one_at_a_time_answers(store, tmp_path, monkeypatch):
    """The block's quick path (stored ones and unclaimed ones together) and its slow one (claimed ones, a
    key twice) give each product the answer that claiming them in turn gives."""
    from ioscan.catalog.store import open_store

    same_data = summary(5, product_id="OTHER_V01", checksum_sha256=summary(1).checksum_sha256)
    block = [
        (_key(1), "JIR_IMG_RDR_2022063T083401", summary(1).checksum_sha256),  # stored
        (_key(2), None, None),  # a live scan's
        (_key(3), None, None),  # a dead scan's: taken over
        (_key(4), None, None),  # nobody's
        (
            product_key("OTHER", "01", same_data.checksum_sha256),
            "OTHER",
            same_data.checksum_sha256,
        ),  # same data
        (_key(6), None, None),  # nobody's
    ]
    with open_store(tmp_path / "one_at_a_time.db") as reference:
        expected = [(c.outcome, c.detail) for c in (_claim_scene(reference).claim(*p) for p in block)]
        mine = _claim_scene(store)
        one_by_one = []
        claim_in = Claims._claim_in
        monkeypatch.setattr(
            Claims, "_claim_in", lambda s, c, k, *a: one_by_one.append(k) or claim_in(s, c, k, *a)
        )
        got = [(c.outcome, c.detail) for c in mine.claim_many(block)]
        assert got == expected
        assert one_by_one == [_key(2), _key(3)]  # the claimed ones; the others together
        assert [o for o, _ in got] == ["stored", "held", "claimed", "claimed", "stored", "claimed"]
        assert mine.held() == 3
        twice = [(_key(7), None, None), (_key(7), None, None)]
        assert [c.outcome for c in mine.claim_many(twice)] == ["claimed", "held"]
