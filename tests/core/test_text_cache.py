"""The digest-keyed cache of text findings: the same answers as without it, bounded, keyed by every argument."""

from __future__ import annotations

from smart_app.core import text_findings
from smart_app.core.text_cache import DigestCache, text_digest
from smart_app.core.vocabulary import IMAGING_FINDINGS

REPORT = (
    "IMPRESSION: Bilateral L5 pars defects with grade I anterolisthesis of L5 on S1. No fracture. "
    "Facet arthropathy at L4-L5, left greater than right; no foraminal stenosis."
)


def test_cached_findings_equal_fresh_ones_and_a_returned_list_cannot_change_the_cache() -> None:
    text_findings.MENTIONS.clear()
    fresh = [text_findings._find_mentions(REPORT, r.finding, r.phrases, r.context) for r in IMAGING_FINDINGS]
    first = [text_findings.find_mentions(REPORT, r.finding, r.phrases, r.context) for r in IMAGING_FINDINGS]
    assert text_findings.MENTIONS.misses == len(IMAGING_FINDINGS) and text_findings.MENTIONS.hits == 0
    first[0].clear()  # a caller's list is its own
    again = [text_findings.find_mentions(REPORT, r.finding, r.phrases, r.context) for r in IMAGING_FINDINGS]
    assert text_findings.MENTIONS.hits == len(IMAGING_FINDINGS)
    assert again == fresh and any(again)
    assert any(m.name == "pars-defect" and not m.negated and "L5" in m.vertebrae for ms in again for m in ms)


def test_every_argument_is_part_of_the_key() -> None:
    keys = {
        text_digest("a b", "x", None, "p"),
        text_digest("a b", "x", "", "p"),
        text_digest("a", "b x", None, "p"),
        text_digest("a b", "x", None, "p", "q"),
        text_digest("a b", "x", None, "pq"),
        text_digest("a b", "y", None, "p"),
    }
    assert len(keys) == 6
    assert text_digest("same", None) == text_digest("same", None)


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache: DigestCache[int] = DigestCache(2)
    calls: list[str] = []

    def answer(key: str) -> int:
        return cache.get_or_compute(text_digest(key), lambda: calls.append(key) or len(calls))

    assert [answer("a"), answer("b"), answer("a"), answer("c"), answer("a"), answer("b")] == [1, 2, 1, 3, 1, 4]
    assert calls == ["a", "b", "c", "b"] and len(cache) == 2
    nothing: DigestCache[int] = DigestCache(0)
    assert nothing.get_or_compute(b"k", lambda: 1) == 1 and len(nothing) == 0
