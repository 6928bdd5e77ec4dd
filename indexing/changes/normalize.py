"""What two versions of an article are compared on: text as people read it, without the page's
furniture.

- :func:`clean_text`: NFKC, soft hyphens and zero-width characters gone, every space variant
  (nbsp, narrow nbsp, thin spaces) one space, dash variants one ``-``, apostrophes one ``'``.
  Quotation marks are kept (:mod:`indexing.changes.quotes` needs to know which is which); the
  comparison keys drop punctuation altogether.
- :func:`fold` : the matching form of a word (casefold, accents as :mod:`indexing.textfold` folds
  them, ``ё`` as ``е``).
- Furniture: audience counters (:func:`counters`) and relative times ("5 minutes ago", "vor 5 Minuten", "5 минут назад", "il y a 5 min")
  are masked wherever they stand (:data:`REL_TIME`); clock times are masked (:data:`CLOCK`); a
  unit whose words are all :data:`FURNITURE_WORDS` (stamps, counters, reading time, share
  buttons, ad-slot labels) around numbers, dates and times is furniture (:func:`is_furniture`),
  and so is a "Read also: ..." cross-link line (:data:`CROSS_LINK`) and a list of article links
  under a heading such as "More on this story" (:func:`link_list_lines`).
- :func:`image_key`: an image URL without cache-busting and size parameters.
- :func:`author_keys`: the set of normalised author names of a byline.

Every pattern is linear (bounded repetitions, runs that cannot restart inside themselves):
``tests/test_regex_bounds.py`` runs them on adversarial input.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from indexing.textfold import strip_marks, unify_apostrophes

#: Removed before anything else: soft hyphen, zero-width space/joiners, word joiner, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u3000\t\r\f\v"), " ")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_SPACE_RUN = re.compile(r" {2,}")
_NEWLINE_SPACES = re.compile(r" ?\n ?")

#: Units (one word) of relative times in en, de, fr, es, it, ru, uk, pl; bounded endings.
_UNITS = (r"(?:sec(?:ond)?s?|min(?:ute)?s?|h(?:(?:ou)?rs?)?|days?|weeks?|months?|years?"
          r"|sekunden?|minuten?|stunden?|std|tag(?:en?)?|wochen?|monat(?:en?)?|jahr(?:en?)?"
          r"|secondes?|heures?|jours?|semaines?|mois|ans?"
          r"|segundos?|minutos?|horas?|d[ií]as?|semanas?|mes(?:es)?|años?"
          r"|secondi|minuti|ore|giorni|settimane|mesi"
          r"|сек(?:унд[аыу]?)?|мин(?:ут[аыу]?)?|час(?:а|ов)?|дн(?:я|ей)|день|недел[иья]|месяц(?:а|ев)?"
          r"|хв(?:илин[аиу]?)?|годин[аиу]?|год|дн(?:і|ів)|тиж(?:ні|день|нів)|місяц(?:і|ів|ь)"
          r"|sek(?:und[ay]?)?|minut[ay]?|godz(?:in[ay]?)?|dni|dzień|tygodni(?:e|a)?|miesi[ąę]c(?:e|y)?)")
_COUNT = r"(?:\d{1,4}|an?|one|einer?|einem|un[ae]?|uno|una|один|одна|одну|jeden|jedn[aą])"
#: A relative time, wherever it stands ("Updated 5 minutes ago" keeps "Updated").
REL_TIME = re.compile(
    r"(?<![^\W_])(?:"
    rf"{_COUNT} {_UNITS}\.? (?:ago|назад|тому|temu|fa)"
    rf"|(?:vor|il y a|hace) {_COUNT} {_UNITS}"
    r"|just now|gerade eben|soeben|только что|щойно|przed chwilą|à l'instant|hace un momento|poco fa"
    r")(?![^\W_])", re.I)
#: Words of audience counters (folded): "3,214 views", "Просмотров: 12 408", "Comments (12)".
COUNTER_WORDS = frozenset("""
view views reads comment comments shares likes aufrufe kommentar kommentare просмотр просмотра просмотров
просмотры комментарий комментария комментариев комментарии перегляд перегляди переглядів коментар
коментарі коментарів wyswietlen wyswietlenia odslon odslony komentarz komentarze komentarzy vues
commentaire commentaires lectures visitas comentario comentarios lecturas visualizzazioni commenti
""".split())
#: A number as counters write it, and the word next to it.
COUNT_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:[ .,']\d{3}){0,4}(?:[.,]\d)?(?: ?[kKmM](?![^\W_]))?(?![\d])")
_WORD_AFTER = re.compile(r" ?([^\W\d_]{2,20})")
_WORD_BEFORE = re.compile(r"([^\W\d_]{2,20}) ?[:(]? ?$")


def counters(text: str) -> list[tuple[int, int]]:
    """Spans of audience counters in ``text`` (a number with a counter word right before or
    after it): their values change on every visit, so they are masked wherever they stand."""
    out = []
    for m in COUNT_NUMBER.finditer(text):
        after = _WORD_AFTER.match(text, m.end())
        if after and fold(after.group(1)) in COUNTER_WORDS:
            out.append((m.start(), after.end()))
            continue
        before = _WORD_BEFORE.search(text[max(0, m.start() - 26):m.start()])
        if before and fold(before.group(1)) in COUNTER_WORDS:
            end = m.end() + 1 if text[m.end():m.end() + 1] == ")" else m.end()
            out.append((m.start() - len(before.group()), end))
    return out


#: A temperature (weather widgets): "+5°C", "-3 °F", "12°".
TEMPERATURE = re.compile(r"(?<![\w.,])[+-]?\d{1,3}(?:[.,]\d)? ?°(?: ?[CF](?![^\W_]))?")
#: A clock time: 14:35, 9:05 am, 14h30.
CLOCK = re.compile(r"(?<![\d:])\d{1,2}(?::|h)\d{2}(?::\d{2})?(?: ?[ap]\.?m\.?)?(?!\d)", re.I)
_LINK_LABELS = (
    r"read (?:also|more)|see also|related(?: (?:articles?|stor(?:y|ies)|coverage|news))?|more on this(?: story)?"
    r"|more from|most read|most popular|top stories|trending(?: now)?"
    r"|lesen sie (?:auch|mehr)|mehr zum thema|auch interessant|siehe auch|das konnte sie auch interessieren"
    r"|meistgelesen|weitere artikel"
    r"|читайте (?:также|також|еще|ще|нас)|смотрите также|дивіться також|по теме|по темі"
    r"|самое (?:читаемое|популярное)|популярное|найпопулярніше|найчитаніше|новости по теме|новини на тему"
    r"|czytaj (?:takze|tez|wiecej)|zobacz (?:tez|takze|rowniez)|najczesciej czytane|polecamy"
    r"|lire aussi|a lire aussi|voir aussi|sur le meme sujet|les plus lus|a lire egalement"
    r"|lee (?:tambien|mas)|te puede interesar|ver tambien|lo mas leido|mas noticias|leggi anche"
)
_AD_LABELS = (r"advertisement|advertising|sponsored(?: content)?|promoted|anzeige|werbung|gesponsert|реклама"
              r"|партнерский материал|партнерський матеріал|reklama|materia[lł] sponsorowany|publicite|publicidad"
              r"|contenido patrocinado|pubblicita")
#: A cross-link or ad line: "Read also: ...", "Lesen Sie auch: ...", "Читайте также: ...",
#: "Anzeige: ..." or the label alone (matched on folded text).
CROSS_LINK = re.compile(rf"^[\W_]{{0,3}}(?:{_LINK_LABELS}|{_AD_LABELS}) ?(?::|-|\||»|>|$)")
#: The heading of a list of links to other articles ("More on this story", "Sur le même sujet").
LINK_HEADING = re.compile(rf"^[\W_]{{0,3}}(?:{_LINK_LABELS})[\W_]{{0,3}}$")
#: Lines of such a list: short, not ended as a sentence is.
LINK_ITEM_CHARS = 200
LINK_ITEMS = 30

#: Words that make up page furniture and nothing else (folded forms): stamps, counters, reading
#: time, share buttons, ad slots, relative days. A unit made of these (and numbers, dates, times)
#: alone is furniture. No word here can carry an article's content on its own.
FURNITURE_WORDS = frozenset("""
updated update last published posted on at am um uhr by von stand zuletzt aktualisiert
veroffentlicht обновлено опубликовано оновлено опубліковано обновлен оновлений zaktualizowano
opublikowano aktualizacja publie mis a jour le actualizado publicado el de en pubblicato aggiornato
il views view reads read comments comment shares share likes like aufrufe kommentare kommentar
teilen просмотров просмотра просмотры просмотр комментариев комментария комментарии переглядів
перегляди переглядів перегляд коментарів коментарі коментар wyswietlen wyswietlenia komentarzy
komentarze komentarz udostepnij vues commentaires commentaire partager visitas comentarios
comentario compartir lecturas min mins minute minutes minuten minut minuty read reading time
lesezeit lesedauer мин минуты минут чтения читать хв хвилини хвилин читання czytania czas
время час czas lecture temps lectura tiempo lettura sec facebook twitter x whatsapp telegram email e mail print
drucken copy link kopieren linkedin reddit vk viber pinterest messenger threads bluesky
k tsd tys mln mio advertisement advertising ad ads anzeige werbung реклама reklama publicite publicidad pubblicita
sponsored gesponsert sponsor promoted today yesterday heute gestern сегодня вчера сьогодні вчора
dzisiaj dzis wczoraj aujourd hui hier hoy ayer oggi ieri
""".split())

#: Query parameters of image URLs that select a size, format, crop or cache version.
_IMAGE_PARAMS = frozenset("""
v ver version itok w h width height q quality fit crop resize auto fm format dpr s t ts timestamp
cb cache _ rev size sz fl fp-x fp-y rect mode scale quality_level impolicy imwidth im output-quality
""".split())
#: Size steps inside image paths: /800x600/, -800x450.jpg, /w_800,h_450/, /resize/800/.
_IMAGE_SIZE = re.compile(r"(?<![^\W_])\d{2,4}x\d{2,4}(?!\d)|(?<![^/,])[whcq]_[a-z0-9]{1,12}(?![^/,])", re.I)
_NAME_PREFIX = re.compile(r"^(?:by|von|от|від|par|por|di|przez|autor(?:in|ka)?|author|text|texte)\s?:?\s", re.I)
_NAME_SPLIT = re.compile(r"[,;&/]| (?:and|und|и|і|та|i|et|y|e|oraz) ", re.I)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def clean_text(text: str) -> str:
    """``text`` as compared and reported: NFKC, invisible characters dropped, one space for
    every space variant (runs collapsed, none around newlines), one ``-`` for every dash, one
    ``'`` for every apostrophe. Newlines are kept (they separate paragraphs)."""
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).translate(_SPACES).translate(_DASHES)
    text = _NEWLINE_SPACES.sub("\n", _SPACE_RUN.sub(" ", unify_apostrophes(text)))
    return text.strip()


@functools.lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """The matching form of one word: casefolded, accents folded (Cyrillic letters kept)."""
    return strip_marks(word.casefold().replace("ё", "е"))


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits, apostrophes inside words kept)."""
    return [fold(w) for w in _WORD.findall(text)]


def is_furniture(tokens: Iterable[str], text: str) -> bool:
    """True when a unit (its key tokens and its clean text) is page furniture: a cross-link or ad
    line; nothing but furniture words, numbers, dates, times, counters and relative times (at most
    12 tokens); or a widget line (at most 4 tokens, not ended as a sentence, with a time, a
    temperature, a relative time or a counter: "Kyiv 14:35", "Київ +5°C")."""
    if CROSS_LINK.match(strip_marks(text.casefold())):
        return True
    tokens = list(tokens)
    if not tokens or len(tokens) > 12:
        return not tokens
    if all(t in FURNITURE_WORDS or t.startswith("\u27e8") for t in tokens):
        # numbers written as words alone ("eins", "forty") are text, not a counter or a stamp
        return any(t in FURNITURE_WORDS for t in tokens) or any(c.isdigit() for c in text)
    return (len(tokens) <= 4 and not text.rstrip("\"'”»)").endswith((".", "!", "?", "…", "。"))
            and any(t.startswith(_WIDGET_TOKENS) for t in tokens))


#: Placeholders that make a short line a widget (time, temperature, relative time, counter).
_WIDGET_TOKENS = ("\u27e8t", "\u27e8w", "\u27e8r", "\u27e8c")


def image_key(url: str) -> str:
    """An image URL as compared: scheme, fragment, size/format/cache-version parameters and size
    steps in the path left out, the host lowercased (``…/a-800x450.jpg?itok=x&v=3`` and
    ``…/a-1200x675.jpg`` are one image)."""
    try:
        parts = urlsplit(url.strip()[:2000])
    except ValueError:
        return url.strip()[:2000]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)[:50]
             if k.lower() not in _IMAGE_PARAMS]
    path = _IMAGE_SIZE.sub("", parts.path)
    return urlunsplit(("", parts.netloc.lower(), path, urlencode(sorted(query)), ""))


def author_keys(authors: Iterable[object], limit: int = 50) -> frozenset[str]:
    """The set of author names of a byline, each folded to its words ("By Anna Müller and
    J. Smith" -> {"anna muller", "j smith"}); at most ``limit`` names are read."""
    out: set[str] = set()
    for i, raw in enumerate(authors):
        if i >= limit:
            break
        if not isinstance(raw, str):
            continue
        text = _NAME_PREFIX.sub("", clean_text(raw[:300]))
        for name in _NAME_SPLIT.split(text):
            key = " ".join(words(name))
            if key:
                out.add(key)
    return frozenset(out)


def link_list_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines that form lists of links to other articles: a heading line such as
    "More on this story" / "Sur le même sujet" / "Читайте також" and the up to
    :data:`LINK_ITEMS` short lines after it that do not end as a sentence does (headlines)."""
    out: set[int] = set()
    in_list = 0
    for i, line in enumerate(lines):
        text = line.strip()
        if len(text) <= 80 and LINK_HEADING.match(strip_marks(text.casefold())):
            out.add(i)
            in_list = LINK_ITEMS
        elif in_list and len(text) <= LINK_ITEM_CHARS and not text.endswith((".", "!", "?", "…", ":", "。")):
            out.add(i)
            in_list -= 1
        else:
            in_list = 0
    return out
