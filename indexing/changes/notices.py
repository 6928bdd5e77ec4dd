"""Correction and update notices that newsrooms append to an edited article, in many languages.

:func:`is_notice` is true for a sentence that opens with a notice label followed by a colon or a
dash ("Correction:", "Update (5 March):", "Korrektur:", "Исправление:", "Виправлення:",
"Sprostowanie:", "Rectificatif :", "Corrección:", "Editor's note:"; a date or time may stand
between the label and the colon: "Update, March 6:", "Aktualisiert um 14.30 Uhr:") or that says an earlier version
was wrong or changed ("An earlier version of this article...", "In einer früheren Version...",
"В предыдущей версии...", "W poprzedniej wersji...", "Une précédente version de cet article...",
"Una versión anterior de este artículo...", "This article has been corrected"). Matched on the
folded text (casefold, accents folded), anchored at the start: linear.
"""

from __future__ import annotations

import re

from indexing.textfold import strip_marks

_LABELS = (
    r"corrections?|correctif|clarifications?|editor'?s'? note|editorial note|note|update[sd]?|updated"
    r"|korrektur|korrigend(?:um|a)|richtigstellung|berichtigung|klarstellung|anmerkung der redaktion"
    r"|hinweis der redaktion|transparenzhinweis|aktualisierung|aktualisiert|nachtrag|erganzung"
    r"|исправлени[ея]|уточнени[ея]|обновлени[ея]|обновлено|дополнено|примечание редакции|от редакции"
    r"|виправлення|уточнення|оновлення|оновлено|доповнено|примітка редакції|від редакції"
    r"|sprostowanie|korekta|aktualizacja|uwaga redakcji|od redakcji|errata"
    r"|rectificatif|rectification|erratum|mise a jour|precision|note de la redaction|additif"
    r"|correccion|fe de err(?:ores|atas)|actualizacion|aclaracion|nota del editor|nota de la redaccion"
    r"|correzione|rettifica|aggiornamento|precisazione|nota della redazione"
)
_EARLIER = (
    r"(?:an|the) (?:earlier|previous|original|initial) version of this (?:article|story|report|piece)"
    r"|this (?:article|story|report) (?:has been|was) (?:corrected|updated|amended|changed)"
    r"|in einer (?:fruheren|ersten|alteren|vorherigen|vorigen) (?:version|fassung)"
    r"|(?:dieser|der) (?:artikel|text|beitrag) wurde (?:korrigiert|aktualisiert|geandert)"
    r"|(?:в|во) (?:первоначальной|предыдущей|ранней|прежней|первой) (?:версии|редакции)"
    r"|(?:эта|данная) (?:статья|новость|публикация) (?:была )?(?:исправлена|обновлена|изменена)"
    r"|(?:у|в) (?:попередній|першій|початковій|первісній) (?:версії|редакції)"
    r"|(?:ця|цю) (?:статт[яю]|новин[ау]|публікаці[яю]) (?:було )?(?:виправлен[ао]|оновлен[ао]|змінен[ао])"
    r"|w (?:poprzedniej|pierwotnej|wczesniejszej|pierwszej) wersji"
    r"|(?:ten )?(?:artykul|tekst) (?:zostal )?(?:poprawiony|zaktualizowany|zmieniony)"
    r"|(?:une|la) (?:precedente|premiere|ancienne) version de cet (?:article|texte)"
    r"|cet article a ete (?:corrige|modifie|mis a jour)"
    r"|una (?:version|edicion) anterior de (?:este|esta) (?:articulo|informacion|noticia|nota)"
    r"|(?:este|esta) (?:articulo|informacion|noticia) (?:ha sido|fue) (?:corregid[oa]|actualizad[oa])"
    r"|una (?:precedente|prima) versione di questo articolo"
)
NOTICE = re.compile(
    rf"^[\W_]{{0,3}}(?:(?:{_LABELS})(?: ?\([^()\n]{{1,60}}\)|,? [^:\d\n]{{0,30}}\d[^:\n]{{0,12}})? ?[:\-]"
    rf"|(?:{_EARLIER})(?![^\W_]))", re.I)


def is_notice(text: str) -> bool:
    """True when ``text`` (a sentence) is a correction or update notice."""
    return NOTICE.match(strip_marks(text[:400].casefold())) is not None
