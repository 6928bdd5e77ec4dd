"""Small defences shared by the feed and sitemap parsers against what recovering XML parsing
lets through (found by fuzzing, see tests/fuzz)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _char_ref(m: re.Match[bytes]) -> bytes:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return m.group(0) if _xml_char(code) else b"&#xFFFD;"


def repair_utf8(body: bytes) -> bytes:
    """The document with invalid UTF-8 (when it is UTF-8, declared or by default) and character
    references to non-characters (``&#xD800;``, ``&#0;``) replaced by U+FFFD.

    lxml's recovering parser keeps both in text nodes and then raises UnicodeDecodeError when
    the text is read: one bad byte would lose the whole document. Documents with a UTF-16 BOM
    are returned unchanged; other declared encodings only have their references repaired."""
    if body.startswith(_BOMS[1:]):
        return body
    body = _CHAR_REF.sub(_char_ref, body)
    declared = _DECLARED.match(body.removeprefix(_BOMS[0])[:512])
    if declared is not None and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return body
    return body.decode("utf-8", errors="replace").encode("utf-8")


def local_name(tag: object) -> str:
    """The lowercased local name of an element tag ('' for comments and processing
    instructions). Not ``etree.QName``: the recovering parser keeps undeclared prefixes
    (``news:news``, ``dc:date``) in the tag, and QName refuses those."""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""


def absolute_http_url(base_url: str, link: str) -> str | None:
    """``link`` made absolute against ``base_url`` when it is an http(s) URL, else None
    (malformed links such as ``http://[::1`` are None, not an exception)."""
    try:
        url = urljoin(base_url, link)
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None
