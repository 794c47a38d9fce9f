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
