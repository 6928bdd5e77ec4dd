"""crawlers.held: the undated links a source offers beyond its cap, kept and released fairly."""

from __future__ import annotations

from crawlers.held import HeldLinks, round_robin, water_fill


def test_water_fill_keeps_small_buckets_and_cuts_the_large_to_one_level() -> None:
    assert water_fill([5, 100, 3, 50], 40) == [5, 16, 3, 16]
    assert water_fill([1, 2], 10) == [1, 2]
    assert water_fill([10, 10, 10], 7) == [3, 2, 2]
    assert water_fill([4, 4], 0) == [0, 0]
    for sizes, budget in [([7, 1, 9, 30, 2], 20), ([1] * 50, 13), ([1000, 1], 2)]:
        quotas = water_fill(sizes, budget)
        assert sum(quotas) == min(budget, sum(sizes))
        assert all(0 <= q <= s for q, s in zip(quotas, sizes, strict=True))


def test_round_robin_takes_one_of_each_in_turn() -> None:
    assert list(round_robin([["a", "b", "c"], ["x"], [], ["m", "n"]])) == ["a", "x", "m", "b", "n", "c"]


def test_one_document_never_holds_more_than_the_limit() -> None:
    held = HeldLinks(10)
    dropped = held.add((f"/dead/{i}" for i in range(100_000)), "section", "/hub/")
    assert dropped == {"section": 99_990}
    assert len(held) == 10


def test_links_seen_twice_are_held_once() -> None:
    held = HeldLinks(10)
    held.add(["/a", "/b"], "section", "/world/")
    held.add(["/b", "/c"], "sitemap", "/sitemap.xml")
    assert sorted(url for url, _ in held.release()) == ["/a", "/b", "/c"]
    assert len(held) == 0


def test_a_late_small_section_keeps_its_links_against_huge_and_many_documents() -> None:
    """The order a crawl meets its documents in is a race: a sitemap chain of 200 small dead
    sitemaps, a huge sitemap and a section of 100,000 dead links answered before the section page
    that links the live stories must not take its places (what CI once saw)."""
    cap = 300
    held = HeldLinks(2 * cap)
    dropped = 0
    for n in range(200):
        dropped += held.add([f"/dead/chain/{n}/{k}" for k in range(5)], "sitemap", f"/dead-{n}.xml").total()
    dropped += held.add((f"/dead/huge/{i}" for i in range(50_000)), "sitemap", "/huge.xml").total()
    dropped += held.add((f"/dead/hub/{i}" for i in range(1000)), "section", "/hub/").total()
    live = [f"/news/live-{i}" for i in range(11)]
    dropped += held.add(live, "section", "/world/").total()
    assert len(held) == 2 * cap
    assert dropped == 200 * 5 + 50_000 + 1000 + 11 - 2 * cap  # every link is held or counted
    released = held.release()
    first = [url for url, _ in released[: cap - 50]]  # the places left after 50 dated articles
    assert set(live) <= set(first)
    kinds = [kind for _, kind in released[:20]]
    assert kinds.count("section") == kinds.count("sitemap") == 10


def test_release_interleaves_kinds_then_documents() -> None:
    held = HeldLinks(100)
    held.add(["/s1", "/s2", "/s3"], "sitemap", "/a.xml")
    held.add(["/t1"], "sitemap", "/b.xml")
    held.add(["/w1", "/w2"], "section", "/world/")
    assert [url for url, _ in held.release()] == ["/s1", "/w1", "/t1", "/w2", "/s2", "/s3"]


def test_links_requested_meanwhile_take_no_turn() -> None:
    """A section page listed the dated articles too (held before the feed dated them): they are
    left out of the interleaving, so the links after them are not pushed back."""
    held = HeldLinks(100)
    held.add(["/dated-1", "/dated-2", "/dated-3", "/live"], "section", "/world/")
    held.add(["/dead-1", "/dead-2", "/dead-3"], "sitemap", "/old.xml")
    order = [url for url, _ in held.release(skip=lambda url: url.startswith("/dated"))]
    assert order == ["/live", "/dead-1", "/dead-2", "/dead-3"]
