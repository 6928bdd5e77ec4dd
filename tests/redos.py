"""Adversarial inputs for regular expressions ("pumping" strings), and a worker process that runs a
pattern on them and can be killed when it takes too long (``re`` holds the GIL: a thread could not
be stopped).

For every repetition in a pattern (``*``, ``+``, ``{m,n}``, lazy or not), the attack strings are the
classic shape of a catastrophic-backtracking input: a prefix that reaches the repetition (a sample
of what comes before it), a 100 KB run of what the repetition repeats (past its bound too; each
alternative it can match alone, and all of them mixed), then either nothing, a sample of what
follows, or a character that makes the match fail at the very end. Plus a sample of the whole
pattern tiled to 100 KB (a search tries every start position).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

try:
    from re import _constants as C  # noqa: N812 - the sre opcode names
    from re import _parser as P  # noqa: N812
except ImportError:  # Python < 3.11
    import sre_constants as C  # type: ignore[no-redef]  # noqa: N812
    import sre_parse as P  # type: ignore[no-redef]  # noqa: N812

#: characters of an attack run (100 KB)
RUN = 100_000
#: alternatives of one node kept (their products are capped too)
MAX_ALTS = 12
#: a character few patterns expect: ends a run so that a match must fail
FAIL = "\x00"
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, *([C.POSSESSIVE_REPEAT] if hasattr(C, "POSSESSIVE_REPEAT") else [])}
_CATEGORY = {C.CATEGORY_SPACE: " \n", C.CATEGORY_NOT_SPACE: "a-", C.CATEGORY_DIGIT: "1",
             C.CATEGORY_NOT_DIGIT: "a ", C.CATEGORY_WORD: "aя1_", C.CATEGORY_NOT_WORD: " -.",
             C.CATEGORY_LINEBREAK: "\n", C.CATEGORY_NOT_LINEBREAK: "a "}
_PROBES = " a-.1\n/|(©:é_яA,\t\u2014'\"<>&#;[]"


def _in_set(items: list[tuple[Any, Any]]) -> list[str]:
    """A few characters an ``[...]`` set matches."""
    negate = bool(items) and items[0][0] is C.NEGATE
    out: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.RANGE:
            out += [chr(av[0]), chr(av[1])]
        elif op is C.CATEGORY:
            out += list(_CATEGORY.get(av, ""))
    if not negate:
        return list(dict.fromkeys(out)) or ["a"]
    excluded = set(out) | {c for op, av in items if op is C.RANGE for c in map(chr, range(av[0], min(av[1], av[0] + 512) + 1))}
    return [c for c in _PROBES if c not in excluded][:MAX_ALTS] or ["\u2603"]


class _Pump:
    """Strings for a parsed pattern: repetition ``target`` pumped to :data:`RUN` characters."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0

    def seq(self, items: Any) -> list[str]:
        alts = [""]
        for op, av in items:
            alts = [a + b for a, b in itertools.islice(itertools.product(alts, self.node(op, av)), MAX_ALTS)]
        return alts

    def node(self, op: Any, av: Any) -> list[str]:
        if op is C.LITERAL:
            return [chr(av)]
        if op is C.NOT_LITERAL:
            return ["a" if av != ord("a") else "b"]
        if op is C.ANY:
            return ["a"]
        if op is C.IN:
            return _in_set(av)
        if op is C.SUBPATTERN:
            return self.seq(av[-1])
        if op is C.BRANCH:
            return [s for branch in av[1] for s in self.seq(branch)][:MAX_ALTS * 2]
        if op in _REPEATS:
            return self.repeat(av)
        if op is getattr(C, "ATOMIC_GROUP", None):
            return self.seq(av)
        return [""]  # anchors, lookarounds, back references: nothing to add

    def repeat(self, av: Any) -> list[str]:
        lo, hi, body = av
        index, self.seen = self.seen, self.seen + 1
        units = [u for u in self.seq(body) if u] or ["a"]
        if index != self.target:
            return [units[0] * lo] if lo else [units[0], ""]
        n = RUN // max(1, len(units[0]))  # past a bound too: the run is what the page holds
        mixed = "".join(itertools.islice(itertools.cycle(units), max(n, 1)))
        return [u * n for u in units[:MAX_ALTS]] + ([mixed] if len(units) > 1 else [])


def repeat_count(parsed: Any) -> int:
    counter = _Pump(-1)
    counter.seq(parsed)
    return counter.seen


def attack_strings(pattern: str | bytes, flags: int = 0) -> Iterator[str]:
    """Attack strings for every repetition of ``pattern`` (see the module docstring)."""
    parsed = P.parse(pattern if isinstance(pattern, str) else pattern.decode("latin-1"), flags)
    seen: set[str] = set()
    # A sample of the whole pattern over and over (a search tries every start position).
    for s in _Pump(-1).seq(parsed):
        for tiled in (s * (RUN // max(1, len(s))), (s + FAIL) * (RUN // (len(s) + 1))):
            if tiled and tiled not in seen:
                seen.add(tiled)
                yield tiled
    for target in range(repeat_count(parsed)):
        for s in _Pump(target).seq(parsed):
            for variant in (s, s + FAIL, FAIL + s + FAIL):
                if len(s) >= RUN // 4 and variant not in seen:
                    seen.add(variant)
                    yield variant
        # the prefix and the run alone (the part after the run cut off) then a failing character
        for s in _Pump(target).seq(_cut_after_target(parsed, target)):
            if len(s) >= RUN // 4 and s + FAIL not in seen:
                seen.add(s + FAIL)
                yield s + FAIL


def _cut_after_target(parsed: Any, target: int) -> list[Any]:
    """The top-level items up to the one containing repetition ``target``."""
    items, counter = [], _Pump(-1)
    for op, av in parsed:
        items.append((op, av))
        counter.node(op, av)
        if counter.seen > target:
            break
    return items


def run_pattern(pattern: str | bytes, flags: int) -> tuple[int, float]:
    """Every attack string through ``finditer`` (the search all callers' calls amount to at most):
    how many strings, and the slowest one's seconds."""
    rx = re.compile(pattern, flags)
    worst, n = 0.0, 0
    for s in attack_strings(pattern, flags):
        text: str | bytes = s if isinstance(pattern, str) else s.encode("utf-8")
        started = time.perf_counter()
        for _ in rx.finditer(text):  # type: ignore[arg-type]
            pass
        worst = max(worst, time.perf_counter() - started)
        n += 1
    return n, worst


def worker(conn: Connection) -> None:
    """Answers ``(pattern, flags)`` requests with ``run_pattern``'s result until it gets None."""
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(("ok", run_pattern(*job)))
        except Exception as exc:  # a pattern our parser does not know: reported, not hidden
            conn.send(("error", repr(exc)))
