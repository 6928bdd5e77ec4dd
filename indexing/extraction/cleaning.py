"""Text hygiene: block boundaries that never glue words, boilerplate lines, mojibake, whitespace."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from indexing.settings import default_config_dir
from indexing.yamlconfig import Regex, load_file

from .decoding import fix_mojibake

logger = logging.getLogger(__name__)

# Elements a browser renders as their own block (or line): text on either side of them never
# belongs to the same word.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body center dd details dialog dir div dl dt fieldset figcaption
    figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p pre section summary table
    tbody td tfoot th thead tr ul caption option legend""".split()
)
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_WORDS = re.compile(r"\w+")
# a pattern referring back to a numbered or named group cannot join an alternation unchanged
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
_SHORT_WORDS = 12


def insert_block_boundaries(tree: Any) -> None:
    """Put a newline after every block element and ``<br>`` so serialised text never glues words.

    ``<blockquote>...dar</blockquote><p>sagte`` must read "dar sagte", not "darsagte".
    """
    for el in tree.iter("br", *BLOCK_TAGS):
        el.tail = "\n" + el.tail if el.tail else "\n"
        if el.tag == "br":
            continue
        # the text just before a block ends its line there: the previous sibling's tail, or the
        # parent's own text. Never an empty block's text: extractors read a block that has text
        # as a paragraph, not as a container (a live ticker's entries were lost that way).
        prev = el.getprevious()
        if prev is not None:
            if not (prev.tail or "").endswith("\n"):
                prev.tail = (prev.tail or "") + "\n"
            continue
        parent = el.getparent()
        if parent is not None and parent.text and not parent.text.endswith("\n"):
            parent.text += "\n"


def normalise_whitespace(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACE.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


@dataclass
class BoilerplateRules:
    lines: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = ()
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    # the patterns as one alternation (one match per paragraph instead of one per pattern; a
    # match at the start by any alternative is a match of the whole): set by ``compile()``
    matcher: re.Pattern[str] | None = None

    def compile(self) -> BoilerplateRules:
        """Join the patterns into ``matcher`` (kept apart if they cannot be joined: a
        backreference would change its group's number)."""
        self.matcher = None
        if self.patterns and not any(_BACKREFERENCE.search(p.pattern) for p in self.patterns):
            try:
                self.matcher = re.compile("|".join(f"(?:{p.pattern})" for p in self.patterns), re.I)
            except re.error:
                logger.debug("boilerplate patterns not joined", exc_info=True)
        return self

    def _matches_pattern(self, paragraph: str) -> bool:
        if self.matcher is not None:
            return self.matcher.match(paragraph) is not None
        return any(p.match(paragraph) for p in self.patterns)

    def is_boilerplate(self, paragraph: str) -> bool:
        key = _line_key(paragraph)
        if not key:
            return True
        if key in self.lines:
            return True
        if len(_WORDS.findall(paragraph)) <= _SHORT_WORDS:
            # "(Credit: ...)", "[Related: ...]": a bracket does not hide the label
            low = paragraph.casefold().lstrip("([ ")
            if low.startswith(self.prefixes):
                return True
            if self._matches_pattern(paragraph):
                return True
        return False


def _line_key(text: str) -> str:
    return text.strip().strip(":…»«›>|•·-–—.() ").strip().casefold()


class _RulesSpec(BaseModel):
    """One language's rules in boilerplate.yaml (see the file's header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lines: list[str] = Field(default_factory=list)
    prefixes: list[str] = Field(default_factory=list)
    patterns: list[Regex] = Field(default_factory=list)


_BoilerplateFile = RootModel[dict[Annotated[str, StringConstraints(pattern=r"^(?:[a-z]{2}|any)$")], _RulesSpec | None]]


@functools.lru_cache(maxsize=4)
def load_boilerplate(path: str | None = None) -> dict[str, BoilerplateRules]:
    """Rules per language code ("any" applies to every page), from boilerplate.yaml in the
    configuration directory by default. No file means no rules (logged); a malformed file is a
    ConfigError naming the file, line and key."""
    source = Path(path) if path else default_config_dir() / "boilerplate.yaml"
    if not source.exists():
        logger.warning("no boilerplate rules: %s not found", source)
        return {}
    spec = load_file(source, _BoilerplateFile, "boilerplate rules")
    rules: dict[str, BoilerplateRules] = {}
    for lang, lang_spec in (spec.root if spec is not None else {}).items():
        lang_spec = lang_spec or _RulesSpec()
        rules[lang] = BoilerplateRules(
            lines={_line_key(x) for x in lang_spec.lines if _line_key(x)},
            prefixes=tuple(x.casefold() for x in lang_spec.prefixes),
            patterns=[re.compile(p, re.I) for p in lang_spec.patterns],
        ).compile()
    return rules


@functools.lru_cache(maxsize=4)
def merged_rules(path: str | None = None) -> BoilerplateRules:
    """Every language's rules in one set: a German page quoting a French teaser is still
    furniture, and one lookup per paragraph keeps cleaning cheap."""
    merged = BoilerplateRules()
    prefixes: list[str] = []
    for rules in load_boilerplate(path).values():
        merged.lines |= rules.lines
        prefixes.extend(rules.prefixes)
        merged.patterns.extend(rules.patterns)
    merged.prefixes = tuple(dict.fromkeys(prefixes))
    return merged.compile()


def is_boilerplate(paragraph: str, language: str | None = None) -> bool:
    return merged_rules().is_boilerplate(paragraph)


def clean_paragraphs(
    paragraphs: list[str], language: str | None = None, drop: set[str] | None = None
) -> list[str]:
    """Repair, normalise, drop boilerplate, empty lines and immediate duplicates.

    ``drop`` holds texts known to be elsewhere (title, image captions and credits).
    """
    drop_keys = {_line_key(d) for d in drop or set() if d}
    rules = merged_rules()
    # ftfy once over the whole text: per-paragraph calls cost ten times more
    fixed = fix_mojibake("\n".join(p.replace("\n", " ") for p in paragraphs)).split("\n")
    out: list[str] = []
    for para in fixed:
        para = normalise_whitespace(para).strip()
        if not para or not _WORDS.search(para):
            continue
        if _line_key(para) in drop_keys:
            continue
        if rules.is_boilerplate(para) or is_shortcode(para) or is_disclosure(para) or is_reader_appeal(para):
            continue
        if _furniture_row(para, rules):
            continue
        if out and out[-1] == para:
            continue
        out.append(para)
    return out


def _furniture_row(paragraph: str, rules: BoilerplateRules) -> bool:
    """A table row ("| a | b |") whose every non-empty cell is furniture ("| Quelle: Wikipedia |")."""
    if not paragraph.startswith("|"):
        return False
    cells = [c.strip() for c in paragraph.strip("| ").split("|") if c.strip()]
    return bool(cells) and all(rules.is_boilerplate(c) for c in cells)


def text_of(el: Any) -> str:
    """Text of an element with block boundaries honoured (call after insert_block_boundaries)."""
    try:
        return normalise_whitespace(etree.tostring(el, method="text", encoding="unicode", with_tail=False))
    except (ValueError, TypeError):
        return ""


_TERMINAL = re.compile(r"[.!?…:;\"'”»)]\s*$")
_SHORTCODE = re.compile(r"^\[(\w+)(\s[^\]]*)?\].*\[/\1\]$")


def page_links(tree: Any) -> list[tuple[str, bool]]:
    """Every link of the page once: its text (whitespace-normalised, casefolded) and whether it
    has an href. Read once per page and shared by the rules that look at link texts."""
    links: list[tuple[str, bool]] = []
    for a in tree.iter("a"):
        try:
            text = " ".join(a.text_content().split())
        except ValueError:
            continue
        links.append((text.casefold(), bool(a.get("href"))))
    return links


def link_texts(tree: Any, links: list[tuple[str, bool]] | None = None) -> set[str]:
    """Normalised texts of the page's links (two words or more); ``links``: page_links(tree)."""
    return {text for text, _ in (page_links(tree) if links is None else links) if " " in text}


def trim_link_tail(paragraphs: list[str], links: set[str]) -> list[str]:
    """Drop a trailing run of related-article links (and the short heading above them).

    The run is removed only when it holds at least one paragraph that is exactly a link's text:
    a short closing line of the article on its own stays.
    """
    end = len(paragraphs)
    cut = end
    seen_link = False
    while end > 1:
        para = paragraphs[end - 1]
        key = " ".join(para.split()).casefold()
        if key in links:
            seen_link = True
        elif not (len(para.split()) <= 5 and not _TERMINAL.search(para)):
            break
        end -= 1
        if seen_link:
            cut = end
    return paragraphs[:cut]


def drop_link_runs(paragraphs: list[str], links: set[str]) -> list[str]:
    """Drop runs of two or more consecutive paragraphs that are each a link's text (an inline
    "related articles" box), with the short heading right above the run."""
    keys = [" ".join(p.split()).casefold() in links for p in paragraphs]
    drop = [False] * len(paragraphs)
    i = 0
    while i < len(paragraphs):
        if not keys[i]:
            i += 1
            continue
        j = i
        while j < len(paragraphs) and keys[j]:
            j += 1
        if j - i >= 2:
            for k in range(i, j):
                drop[k] = True
            head = paragraphs[i - 1] if i > 0 else ""
            if head and len(head.split()) <= 5 and not _TERMINAL.search(head):
                drop[i - 1] = True
        i = j
    return [p for p, d in zip(paragraphs, drop, strict=True) if not d]


def drop_trailing_labels(paragraphs: list[str]) -> list[str]:
    """Drop short label lines ending in ":" at the very end ("Weitere Informationen:",
    "Kontakt:", "Share this:"): what they announced was furniture and is gone already."""
    end = len(paragraphs)
    while end > 1 and paragraphs[end - 1].rstrip().endswith(":") and len(paragraphs[end - 1].split()) <= 5:
        end -= 1
    return paragraphs[:end]


# The heading of an author's (or a series') box under the article: what follows is a bio.
_ABOUT_HEADING = re.compile(
    r"(über (den|die) (autor|autorin|autoren)|zum autor|zur autorin|autor|autorin|über diese reihe|"
    r"about the authors?|about the series|author|à propos de l'auteur|à propos de l'autrice|l'auteur|l'autrice)\s*:?",
    re.I,
)
_ABOUT_TAIL = 3


def drop_about_box(paragraphs: list[str]) -> list[str]:
    """Cut an "About the author" / "Über diese Reihe" heading among the last few paragraphs and the
    bio after it: a box under the article, not its text (further up, "Zur Person" is part of it)."""
    for i in range(max(1, len(paragraphs) - _ABOUT_TAIL), len(paragraphs)):
        if _ABOUT_HEADING.fullmatch(paragraphs[i].strip()):
            return paragraphs[:i]
    return paragraphs


# The site speaking to its reader under the article: a call to comment, to sign up, to click,
# to try the house's own newsletter, magazine, shop or job board. German and French, as the
# site words it ("Verraten Sie gerne in den Kommentaren: ...", "DHB jetzt auch digital! Einfach
# hier klicken ...", "Schauen Sie mal in unseren Musiknewsletter!", "Dites-le nous en commentaire").
_TAIL_APPEAL = re.compile(
    r"\b((gerne|uns|mir) in (den|die) kommentare(n)?|(einen|deinen|ihren) kommentar (unter|zu)|hier klicken|jetzt "
    r"(registrieren|anmelden|abonnieren|bestellen)|reinschauen und entdecken|unser(en|em)? \w*(newsletter|jobbörse)\b|"
    r"unser \w*magazin\b|in unser(em|en) \w*shop\b|(dites|dîtes)[- ]nous en commentaires?|en commentaires? ci-dessous|"
    r"laissez[- ](nous )?un commentaire|abonnez-vous|inscrivez-vous|(à|a) notre (newsletter|lettre d'information))", re.I
)
_TAIL_APPEAL_SPAN = 3
_TAIL_APPEAL_WORDS = 60


def drop_tail_appeals(paragraphs: list[str]) -> list[str]:
    """Drop the site's appeals to the reader among the last few paragraphs (a short paragraph
    asking for a comment, a sign-up, a click on the house's newsletter or magazine): furniture
    under the article. Further up, a sentence quoting such words is article text."""
    start = max(1, len(paragraphs) - _TAIL_APPEAL_SPAN)
    tail = [p for p in paragraphs[start:] if not _short_match(_TAIL_APPEAL, p, _TAIL_APPEAL_WORDS)]
    return paragraphs[:start] + tail


_MONTHS = (
    "januar|jänner|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    "janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre"
)
_DATE = re.compile(
    rf"\b(\d{{1,2}}\.\s?\d{{1,2}}\.\s?\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}}|"
    rf"\d{{1,2}}\.?\s(?:{_MONTHS})\s\d{{4}})(\s*[,|•·–-]?\s*\d{{1,2}}[:.h]\d{{2}}(\s*uhr)?)?",
    re.I,
)
_HEAD = 3
_DATELINE_WORDS = 3


def drop_head_datelines(paragraphs: list[str]) -> list[str]:
    """Date lines among the first few paragraphs, with at most a label, a category or a name
    beside the date ("24. April 2020 | Pressemitteilungen", "Datum 25.01.2022", "11.12.2019 -
    Amelie Loevenich"): the page's metadata above the article, not its text."""
    head = paragraphs[:_HEAD]
    kept = [p for p in head if not _is_dateline(p)]
    return paragraphs if len(kept) == len(head) else kept + paragraphs[_HEAD:]


def _is_dateline(paragraph: str) -> bool:
    rest, dates = _DATE.subn(" ", paragraph)
    if not dates or re.search(r"[.!?]", rest):
        return False
    return len(_WORDS.findall(rest)) <= _DATELINE_WORDS


_HEADLINE_HEAD = 2
# the headline is dropped above an article only: a short page may be little more than its heading
_HEADLINE_BODY_WORDS = 80
# share of the headline's words the metadata title must have for the two to be one headline
_HEADLINE_OVERLAP = 0.3


def drop_headline(paragraphs: list[str], headline: str | None, title: str | None) -> list[str]:
    """The page's visible headline (its first ``<h1>``) among the first paragraphs when the
    metadata title is another wording of it (the SEO one): the headline, not body text. An
    ``<h1>`` that shares no words with the title is some other heading and stays."""
    key = _line_key(headline or "")
    words = set(_WORDS.findall(key))
    if not words or len(words & set(_WORDS.findall((title or "").casefold()))) < _HEADLINE_OVERLAP * len(words):
        return paragraphs
    head = paragraphs[:_HEADLINE_HEAD]
    kept = [p for p in head if _line_key(p) != key]
    if len(kept) == len(head):
        return paragraphs
    rest = kept + paragraphs[_HEADLINE_HEAD:]
    return rest if sum(len(_WORDS.findall(p)) for p in rest) >= _HEADLINE_BODY_WORDS else paragraphs


def drop_dek(paragraphs: list[str], description: str | None) -> list[str]:
    """The subtitle (dek) repeated above the body: it is the article's `lead`, not body text.

    Only an unpunctuated one-liner equal to the page description is dropped; a lead paragraph
    written as a sentence stays in the body.
    """
    if not paragraphs or not description:
        return paragraphs
    first = " ".join(paragraphs[0].split()).casefold()
    if first == " ".join(description.split()).casefold() and not _TERMINAL.search(paragraphs[0]):
        return paragraphs[1:]
    return paragraphs


# The site's note on its affiliate links and paid placements: about the page, not the story.
_DISCLOSURE = re.compile(
    r"(enthält|enthalten|sind|handelt es sich um|kann)( sogenannte)? [»„\"]?affiliate[- ]?links?|"
    r"affiliate[- ]?links?[«“\"]? (sind|gekennzeichnet|markiert)|(eine|kleine) provision (erhält|erhalten)|"
    r"product advertising api|we (may|might) (receive|earn)( a)? (compensation|commission)|advertising disclosure|"
    r"this (post|article|page) (contains|may contain) (affiliate links|references to products)|"
    r"liens? (d'affiliation|affiliés?)",
    re.I,
)
_DISCLOSURE_WORDS = 60


def is_disclosure(paragraph: str) -> bool:
    """An affiliate or advertising disclosure ("Bei den Verlinkungen handelt es sich um Affiliate
    Links", "We may receive compensation when you click ...")."""
    return _short_match(_DISCLOSURE, paragraph, _DISCLOSURE_WORDS)


# The site speaking to its reader: newsletter and app pitches, "follow us", "tell us what you
# think", the reporter's contact line, a subscription wall's notice. Never the story's own words.
_APPEALS = (
    r"\b(subscribe|sign up|signup|register)\b(?![^.!?]{0,60}\bthis newsletter)[^.!?]{0,60}"
    r"\b(newsletters?|inbox|e-?mails?|updates)\b",
    r"\b(get|delivered|straight|directly|right)\b[^.!?]{0,40}\b(to|in|into|through) your (inbox|letterbox|mailbox)\b",
    r"\b(may|can) be reached at\b",
    r"\breach (the |this )?(reporters?|writers?|authors?|editors?|columnists?)\b",
    r"\bfollow (him|her|them|us|me|the [\w ]{1,30}|@?(?-i:[A-Z])[\w.]+( (?-i:[A-Z])[\w.]+)?) on (twitter|facebook|instagram)\b",
    r"\bhave a (news )?tip\b",
    r"\b(tell|let) us (know )?what you think\b",
    r"\bwe want to hear (from you|what you think)\b",
    r"\bdownload (the|our) [^.!?]{0,40}\bapps?\b",
    r"\b\d+ issues for\b",
    r"\bnever miss (a|an|our|the)( \w+)? (stor(y|ies)|posts?|updates?|news|headlines|issues?|beats?)\b",
    r"\bsign up (here|now|today|to (get|receive))\b",
    r"\bsubmit (your|a) letter\b",
    r"\bto (view|read|continue reading) (the|this) (full|rest of the|entire) (story|article)\b[^.!?]{0,20}\bsubscri",
)
_APPEAL = re.compile("|".join(_APPEALS), re.I)
# a long paragraph that mentions a newsletter is the story's own text
_APPEAL_WORDS = 45


def is_reader_appeal(paragraph: str) -> bool:
    """The site addressing its reader ("Get the latest updates right in your inbox", "Reach the
    reporter on Twitter at ...", "Tell us what you think"): furniture around the article."""
    return _short_match(_APPEAL, paragraph, _APPEAL_WORDS)


def _short_match(pattern: re.Pattern[str], paragraph: str, max_words: int) -> bool:
    return len(paragraph.split()) <= max_words and bool(pattern.search(paragraph))


def is_shortcode(paragraph: str) -> bool:
    """A CMS shortcode that leaked into the text: ``[button link=...]Send us...[/button]``."""
    return bool(_SHORTCODE.match(paragraph.strip()))
