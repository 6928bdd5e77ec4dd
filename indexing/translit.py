"""Proper names across scripts and transliteration conventions: a lossy Latin "skeleton".

The gazetteer bridges the names it knows; this bridges the ones it does not (a village, a
commander, a ship). "Pokrovsk", "Pokrowsk", "Покровськ", "Покровск" and the inflected
"Покровська"/"Покровському"/"Pokrowsks" all fold to the same token, so an English query finds
the Ukrainian, Russian and German reports that name the place.

How a word is folded (:func:`fold_word`):

1. lowercase, ``ç`` read as ``s``, accents and apostrophes folded as everywhere else
   (:mod:`indexing.textfold`: ``Choïgou`` -> ``choigou``, ``ß`` -> ``ss``), soft/hard signs dropped;
2. Cyrillic transliterated with one simple table (Ukrainian and Russian letters together);
3. Latin spellings reduced to sound classes that the en/de/fr conventions for Cyrillic names
   agree on, longest spelling first:

   * every hushing or guttural sound is one class ``h``: ч ш щ ж х г/ґ and their spellings ``ch``
     (en ч, de х, fr ш), ``sh sch zh tsch tch shch kh``, ``g``, ``h``. The conventions give ``ch``
     three different values, so only the merged class is convention-free;
   * ``s z c(e/i) ts tz`` -> ``s`` (German ``z`` is ц, German initial ``s`` is з);
   * ``w f ph v`` -> ``v``; ``c k q ck`` -> ``k``; ``x`` -> ``ks``;
   * vowels, ``y`` and ``j`` as й are one vowel class; a run of them is one ``a``
     (Харків/Харьков/Charkiw, Авдіївка/Авдеевка/Awdijiwka). ``j`` is also ж in French
     (``Zaloujny``, ``Prigojine``): a word with ``j`` yields both readings;
   * a Ukrainian prothetic ``v`` before ``u`` + consonant is dropped (Вугледар/Угледар);
   * repeated classes are merged (``Odessa``/``Odesa``);
4. common case endings are stripped from the skeleton (the stem keeps >= 3 classes): a final
   ``s`` (German genitive, English possessive), then one of ``-ого/-oho``, ``-ому/-ими``,
   ``-ом/-ем/-ам`` or a final vowel. Applied to every script alike, so whatever it merges, it
   merges the same way everywhere (Борис and Boris both lose their ``s``).

The skeleton is deliberately coarse: it is a *bonus* signal on a field of name tokens, matched
as whole tokens, never a filter. Skeletons under 3 classes or with fewer than 2 consonant
classes are dropped as too ambiguous.

:func:`name_tokens` picks the candidate names of an article (capitalised words and acronyms,
not function words) and returns their skeletons for the ``names_translit`` field;
:func:`query_words` folds every word of a typed query (users type names in lowercase).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from indexing.textfold import (
    APOSTROPHE_CLASS,
    drop_apostrophes,
    has_other_apostrophes,
    strip_marks,
    unify_apostrophes,
)

#: Skeletons shorter than this, or with fewer consonant classes, are too ambiguous to be worth a token.
MIN_SKELETON = 3
MIN_CONSONANTS = 2

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "ye", "ё": "yo", "ж": "zh",
    "з": "z", "и": "y", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Belarusian/Serbian letters that turn up in names: folded like their neighbours.
    "ў": "u", "ј": "y", "ђ": "dj", "ћ": "ch", "џ": "dzh", "љ": "l", "њ": "n",
}
_CYRILLIC_TABLE = str.maketrans(_CYRILLIC)

# Spellings -> sound class, longest first (a regex alternation tries them in this order).
# "H": hushing/guttural, "S": sibilant/affricate ц, "K", "V", "A": vowel, "J": the ambiguous j.
_CLASSES: list[tuple[str, str]] = [
    ("schtsch", "H"), ("shch", "H"), ("tsch", "H"), ("chtch", "H"), ("sch", "H"), ("tch", "H"),
    ("ck", "K"), ("kh", "H"), ("ch", "H"), ("sh", "H"), ("zh", "H"), ("ph", "V"), ("qu", "K"),
    ("ts", "S"), ("tz", "S"), ("ce", "SA"), ("ci", "SA"), ("cy", "SA"), ("x", "KS"),
    ("g", "H"), ("h", "H"), ("c", "K"), ("k", "K"), ("q", "K"), ("s", "S"), ("z", "S"),
    ("w", "V"), ("v", "V"), ("f", "V"), ("j", "J"),
    ("a", "A"), ("e", "A"), ("i", "A"), ("o", "A"), ("u", "A"), ("y", "A"),
]
_CLASS_RE = re.compile("|".join(re.escape(s) for s, _ in _CLASSES))
_CLASS_OF = dict(_CLASSES)
# A Ukrainian prothetic в before у + consonant (Вугледар, Вкраїна is rarer): the Russian and
# many Latin spellings have none.
_PROTHETIC_V = re.compile(r"^[vw](?=(?:u|ou)[^aeiouy])")
# Endings on the skeleton (upper case = class letters, see _CLASSES), tried in this order.
_ENDINGS = ("AHA", "AMA", "AM", "A")

_WORD_RE = re.compile(rf"[^\W\d_]+(?:{APOSTROPHE_CLASS}[^\W\d_]+)*", re.UNICODE)
# Words that may start with a capital (Latin with accents, Cyrillic): looking only at those keeps
# the index-time pass cheap. A French elision is not part of the name: "d'Avdiïvka" yields
# "Avdiïvka" (the apostrophe is no word character, so a word starts after it).
_CAPITALISED_RE = re.compile(rf"\b[A-ZÀ-ÖØ-ÞĀ-ſА-ЯЁЄІЇҐЎЈЂЋЏЉЊ][^\W\d_]*(?:{APOSTROPHE_CLASS}[^\W\d_]+)*")
_ELISION = re.compile(rf"^(?:qu|[cdjlmnst]){APOSTROPHE_CLASS}(?=[^\W\d_])", re.IGNORECASE)

#: Function words that start sentences (and so are capitalised) in the five languages: they
#: are not names. Short ones (skeleton < 3) need no listing.
_STOPWORDS = frozenset("""
the this that these those there their then than when where which while with from after before about
into over under during since until also however according what were have has will would could should
der die das den dem des ein eine einen einem einer eines und oder aber nach nachdem bei beim mit von vom
zum zur auch noch wie wenn weil dass denn doch dort hier heute seit sein seine ihre ihr sie wir ich
nicht nur schon sehr unter über gegen durch ohne diese dieser dieses jetzt laut zudem
les des une dans pour par sur avec sans mais plus selon depuis lors leur leurs cette ces ceux elle ils
nous vous sont était aussi après avant entre tout tous quand comme alors
цей ця це ці той та ті його її їх вони він вона але також після перед через коли якщо
этот эта это эти тот те его ее их они он она но также после перед через когда если
""".split())


# French ç is always /s/: a sound rule of the skeleton, before accents are folded (ç -> c).
_SOUNDS = str.maketrans({"ç": "s"})


def to_latin(word: str) -> str:
    """Lowercase Latin letters for ``word`` (Cyrillic transliterated, accents and apostrophes dropped)."""
    return drop_apostrophes(strip_marks(word.lower().translate(_SOUNDS))).translate(_CYRILLIC_TABLE)


def _classes(latin: str) -> str:
    latin = _PROTHETIC_V.sub("", latin)
    out: list[str] = []
    pos = 0
    while pos < len(latin):
        m = _CLASS_RE.match(latin, pos)
        if m:
            out.append(_CLASS_OF[m.group(0)])
            pos = m.end()
        else:
            ch = latin[pos]
            if "a" <= ch <= "z":
                out.append(ch.upper())
            pos += 1
    return "".join(out)


def _squeeze(classes: str) -> str:
    out: list[str] = []
    for c in classes:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def _strip_ending(skel: str) -> str:
    if len(skel) > MIN_SKELETON and skel.endswith("S"):
        skel = skel[:-1]
    for ending in _ENDINGS:
        if skel.endswith(ending) and len(skel) - len(ending) >= MIN_SKELETON:
            return skel[: -len(ending)]
    return skel


def fold_word(word: str) -> list[str]:
    """The skeleton(s) of one word: usually one, two when a ``j`` can be read both as й and as ж
    (``Zaloujny``). Empty for words too short to fold usefully."""
    return list(_fold_cached(word))


@functools.lru_cache(maxsize=65536)
def _fold_cached(word: str) -> tuple[str, ...]:
    # Names and query expansion forms repeat a lot: folding each spelling once is enough.
    latin = to_latin(_ELISION.sub("", word))
    if not latin:
        return ()
    raw = _classes(latin)
    if raw.endswith("J"):  # word-final j is й in every convention
        raw = raw[:-1] + "A"
    readings = [raw.replace("J", "A")]
    if "J" in raw:
        readings.append(raw.replace("J", "H"))
    out: list[str] = []
    for r in readings:
        skel = _strip_ending(_squeeze(r)).lower()
        if len(skel) >= MIN_SKELETON and len(skel) - skel.count("a") >= MIN_CONSONANTS and skel not in out:
            out.append(skel)
    return tuple(out)


def fold(text: str) -> list[str]:
    """Skeletons of every word of ``text``, in order, duplicates kept (term frequency counts)."""
    return [s for m in _WORD_RE.finditer(text or "") for s in fold_word(m.group(0))]


def _is_name_candidate(word: str) -> bool:
    return word[0].isupper() and drop_apostrophes(word.lower()) not in _STOPWORDS


def name_tokens(texts: Iterable[str | None]) -> list[str]:
    """Skeletons of the candidate names in ``texts`` (capitalised words and acronyms, function
    words left out), one per occurrence: the value of the ``names_translit`` field.

    Sentence-initial words are kept (a report often starts with the place it is about); German
    nouns are capitalised too, so the field holds more than names: the search side gives it a
    modest weight and lets the engine's IDF tell rare names from common nouns.
    """
    out: list[str] = []
    for text in texts:
        text = text or ""
        if has_other_apostrophes(text):
            # "ʼ" is a letter to the regex engine: as "'" it ends a French elision (dʼAvdiïvka).
            text = unify_apostrophes(text)
        for m in _CAPITALISED_RE.finditer(text):
            word = m.group(0)
            if _is_name_candidate(word):
                out.extend(fold_word(word))
    return out


#: the Slavic place adjective's suffix as a skeleton: Борівська (громада), Харківська (область),
#: Sverdlovskaya (oblast), powiat borowski all fold to the place's skeleton + this
PLACE_ADJECTIVE = "sk"


def place_forms(skeletons: Iterable[str]) -> list[str]:
    """``skeletons`` and, for each that does not end in it already, the skeleton of its Slavic place
    adjective (:data:`PLACE_ADJECTIVE`): news in Ukrainian, Russian and Polish name a village's
    community, a district or a region by the adjective ("З Борівської громади" for Borova), so a
    typed place name bridges to them too. Query side only: the articles' skeletons stay as they are."""
    out: list[str] = []
    for s in skeletons:
        for form in (s, place_adjective(s)):
            if form and form not in out:
                out.append(form)
    return out


def place_adjective(skeleton: str) -> str | None:
    """The skeleton of the Slavic place adjective of the place whose skeleton is ``skeleton``
    (``barav`` -> ``baravsk``, ``adas`` -> ``adask``: repeated classes merge, as in every
    skeleton), or None: for a skeleton that is one already, and for one of only
    :data:`MIN_SKELETON` classes (``pal`` for "pól" would become ``palsk``, Polska)."""
    if len(skeleton) <= MIN_SKELETON or skeleton.endswith(PLACE_ADJECTIVE):
        return None
    return skeleton + (PLACE_ADJECTIVE[1:] if skeleton.endswith(PLACE_ADJECTIVE[0]) else PLACE_ADJECTIVE)


def query_words(query: str, *, skip: Iterable[str] = ()) -> list[tuple[str, list[str]]]:
    """``(word, skeletons)`` for the words of a typed query (any case) that have skeletons, in
    order; function words, repeats and words in ``skip`` (already bridged by the gazetteer, say;
    compared by skeleton, so any spelling of them) are left out. A word's skeletons include its
    place-adjective forms (:func:`place_forms`)."""
    skipped = {s for w in skip for m in _WORD_RE.finditer(w or "") for s in fold_word(m.group(0))}
    seen: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    for m in _WORD_RE.finditer(query or ""):
        word = m.group(0)
        if word.lower() in _STOPWORDS:
            continue
        own = [s for s in fold_word(word) if s not in skipped]
        skeletons = [s for s in place_forms(own) if s not in skipped and s not in seen]
        if skeletons:
            seen.update(skeletons)
            out.append((word, skeletons))
    return out


def query_tokens(query: str, *, skip: Iterable[str] = ()) -> list[str]:
    """Distinct skeletons of the words of a typed query (see :func:`query_words`)."""
    return [s for _, skeletons in query_words(query, skip=skip) for s in skeletons]


#: the keyword query's clause names for one typed word (hybrid fusion reads them from the hits'
#: matched clauses): the hit carries the word only through its skeleton (written another way),
#: or carries it at all (its own text or the skeleton)
BRIDGED = "name:"
CARRIED = "word:"

#: languages written in another script than Latin (any other known language is taken as Latin)
_SCRIPT_OF_LANGUAGE = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "kk", "ky", "tg", "mn"), "CYRILLIC"),
    "el": "GREEK", "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "he": "HEBREW", "yi": "HEBREW",
    "ka": "GEORGIAN", "hy": "ARMENIAN", "hi": "DEVANAGARI", "zh": "CJK", "ja": "CJK", "ko": "HANGUL",
}


def script_of_word(word: str) -> str | None:
    """The script of ``word``'s first letter (``LATIN``, ``CYRILLIC``, ...: the first word of its
    Unicode name), or None without a letter."""
    for ch in word:
        if ch.isalpha():
            return unicodedata.name(ch, "UNKNOWN").split()[0]
    return None


def script_of_language(language: str | None) -> str | None:
    """The script articles in ``language`` are written in (None: unknown, or no language)."""
    if not language or language == "other":
        return None
    return _SCRIPT_OF_LANGUAGE.get(language, "LATIN")


def is_name(word: str) -> bool:
    """Whether a typed word is written as a name: capitalised, and no function word (the same
    test the article side applies to its words, :func:`name_tokens`)."""
    return bool(word) and _is_name_candidate(word)
