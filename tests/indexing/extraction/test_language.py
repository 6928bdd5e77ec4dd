"""Language identification without a change of output: the vectorised walk of py3langid's DFA
gives its byte-by-byte walk's feature counts, in the same order, on real pages and on mixed
scripts; the model holds the property the walk relies on (no state deeper than _DFA_DEPTH)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import lxml.html
import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from indexing.extraction import language
from indexing.extraction.language import detect_language, vectorised_walk

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def stock() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _texts() -> list[str]:
    """Page texts of every script the fixtures hold (cut as detect_language cuts them), odd
    strings, and random mixes of scripts, including lengths below the walk's depth."""
    texts = ["", "a", "Ab", "дім", "日本語", "ÀÉÎõü", "x" * 5, "ß" * 3, "ABC DEF GHI"]
    for path in sorted((FIXTURES / "pages").glob("*.html")):
        raw = path.read_bytes()
        body = lxml.html.document_fromstring(raw).text_content()
        text = " ".join(body.split())
        texts += [text[i : i + 1500] for i in range(0, min(len(text), 6000), 1500)]
    for path in sorted((FIXTURES / "quality" / "snippets" / "html").glob("*.html.gz"))[:40]:
        body = lxml.html.document_fromstring(gzip.decompress(path.read_bytes())).text_content()
        texts.append(" ".join(body.split())[:1500])
    rnd = random.Random(18)
    ranges = [(32, 127), (0x400, 0x500), (0xC0, 0x250), (0x4E00, 0x4F00), (0x600, 0x700), (0x1F600, 0x1F650)]
    for _ in range(300):
        texts.append("".join(chr(rnd.randrange(*rnd.choice(ranges))) for _ in range(rnd.randrange(0, 200))))
    return texts


def test_the_model_has_no_state_deeper_than_the_walk_reads(stock: LanguageIdentifier) -> None:
    table = np.frombuffer(stock.tk_nextmove, dtype=np.uint32)
    rowbase = np.asarray(stock._rowbase, dtype=np.int64)
    assert len(rowbase) == language._DFA_STATES
    reached = np.zeros(len(rowbase), dtype=bool)
    reached[0] = True
    frontier, depth = np.array([0]), 0
    while len(frontier):
        found = np.unique(table[(rowbase[frontier][:, None] + np.arange(256)).ravel()])
        frontier = found[~reached[found]]
        reached[frontier] = True
        depth += bool(len(frontier))
    assert reached.all()
    assert depth <= language._DFA_DEPTH


def test_vectorised_walk_counts_what_py3langid_counts(stock: LanguageIdentifier) -> None:
    walk = vectorised_walk(stock)
    assert walk is not None
    texts = _texts()
    assert len(texts) > 350
    for text in texts:
        data = stock._encode(text)
        expected = visit_counts(stock.tk_nextmove, stock._rowbase, stock.tk_output, data)
        got = walk(data)
        assert (list(got.items()) if got else None) == (list(expected.items()) if expected else None), text[:80]


def test_ranking_and_detection_are_py3langid_s(stock: LanguageIdentifier) -> None:
    ours = language._identifier()
    assert ours._walk is not None  # the bundled model takes the vectorised walk
    for text in _texts():
        assert ours.rank(text) == stock.rank(text), text[:80]
    german = "Die Bundesregierung hat am Mittwoch neue Hilfen für die Ukraine beschlossen."
    assert detect_language(german * 3, "en") == "de"


def test_a_model_of_another_shape_keeps_the_byte_by_byte_walk(stock: LanguageIdentifier) -> None:
    other = LanguageIdentifier(
        stock.nb_ptc, stock.nb_pc, stock.nb_classes, stock.tk_nextmove, stock.tk_output[:-1], tk_row=stock.tk_row[:-1]
    )
    assert vectorised_walk(other) is None
