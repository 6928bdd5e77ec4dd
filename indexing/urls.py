"""URL canonicalisation and scope rules shared by the crawler and the indexer.

One article should be one document whatever URL it was reached by: scheme and host case,
default ports, tracking parameters, fragments, AMP variants and parameter order must not
create a second identity. Only rewrites that are safe on the web at large are made here;
publisher-declared identity (``rel=canonical``) is applied by the crawler on top.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import posixpath
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

#: Query parameters that only track the reader / campaign and never select content.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "gbraid",
        "wbraid",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wt.mc_id",
        "wt_mc",
        "wt.mc_ev",
        "ncid",
        "ocid",
        "cmpid",
        "icid",
        "ito",
        "s_cid",
        "s_kwcid",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "ref_src",
        "ref_url",
        "smid",
        "sr_share",
        "xtor",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "__twitter_impression",
        "cid_source",
        "spm",
    }
)
#: Prefixes of tracking parameter names (utm_source, utm_medium, pk_campaign, ...).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "matomo_", "hmb_", "_bta_", "trk_", "stm_")

#: ``?amp`` / ``?amp=1`` / ``?outputType=amp`` select an AMP rendering of the same article.
_AMP_QUERY_VALUES = {"", "1", "true", "yes", "amp"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_SUFFIX_RE = re.compile(r"\.amp(\.html?)$", re.IGNORECASE)
_AMP_SEGMENT = "amp"
# Characters left unencoded in paths / query values (RFC 3986 pchar minus the delimiters we split on).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = ":@!$'()*+,;/?-._~%"


def _normalise_percent(component: str, safe: str) -> str:
    """Uppercase escapes, decode unreserved characters, encode the rest (idempotent)."""

    # unquote only unreserved characters: decoding %2F or %3F would change the meaning.
    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        if ch.isascii() and (ch.isalnum() or ch in "-._~"):
            return ch
        return "%" + m.group(1).upper()

    component = re.sub(r"%([0-9A-Fa-f]{2})", fix, component)
    return quote(component, safe=safe)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _strip_amp_path(path: str) -> str:
    """/x/amp/ , /x/amp , /amp/x , /x.amp.html -> the non-AMP path."""
    path = _AMP_SUFFIX_RE.sub(r"\1", path)
    segments = path.split("/")
    trailing = path.endswith("/")
    core = [s for s in segments if s]
    if len(core) >= 2 and core[-1].lower() == _AMP_SEGMENT:
        core = core[:-1]
    elif len(core) >= 2 and core[0].lower() == _AMP_SEGMENT:
        core = core[1:]
    else:
        return path
    rebuilt = "/" + "/".join(core)
    return rebuilt + "/" if trailing else rebuilt


def _normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host or host.startswith("["):
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonicalize_url(url: str) -> str:
    """The canonical form of an http(s) URL (idempotent).

    Lowercases scheme and host (IDNA), drops default ports, userinfo-free hosts unchanged,
    fragments, tracking parameters and AMP markers; resolves ``.``/``..`` path segments,
    normalises percent-encoding and sorts the query. An empty path becomes ``/``; other
    trailing slashes are kept (``/a`` and ``/a/`` may be different resources). Non-http(s)
    URLs are returned stripped but otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = _normalise_host(parts.hostname)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"

    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and path != "/":
        path += "/"
    path = _strip_amp_path(_normalise_percent(path, _PATH_SAFE))

    query_pairs = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        low, val = name.lower(), value.lower()
        if (low == "amp" and val in _AMP_QUERY_VALUES) or (low == "outputtype" and val == "amp"):
            continue
        if _is_tracking(name):
            continue
        query_pairs.append((name, value))
    query_pairs.sort()
    query = urlencode(query_pairs, quote_via=quote, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def doc_id(canonical_url: str) -> str:
    """A stable document id for a canonical URL (the Elasticsearch ``_id``): 32 hex chars."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def url_host(url: str) -> str:
    """The normalised host of a URL ('' when it has none)."""
    try:
        return _normalise_host(urlsplit(url.strip()).hostname or "")
    except ValueError:
        return ""


def _ip_is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
        # fec0::/10, deprecated site-local (RFC 3879): still routed inside some networks, and
        # Python counts it neither private nor reserved
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


@functools.lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ()
    return tuple(sorted({str(info[4][0]) for info in infos}))


def is_private_address(host: str, resolve: bool = True) -> bool:
    """True when ``host`` is (or, with ``resolve``, resolves to) a loopback, private,
    link-local, multicast, reserved or unspecified address. ``localhost`` and ``*.localhost``
    count as loopback without a lookup. A name that does not resolve is not private (the
    fetch will fail on its own)."""
    host = _normalise_host(host).strip("[]")
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return _ip_is_private(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not resolve:
        return False
    addresses = _resolve(host)
    return any(_ip_is_private(ipaddress.ip_address(a.split("%", 1)[0])) for a in addresses)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_is_private(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when connecting to ``address`` (an IP, with or without an IPv6 zone) may reach a
    non-public network. Anything that is not an IP address counts as private (fail closed).
    The one rule for addresses connected to: the crawler's resolver and the alert webhook."""
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0].strip("[]"))
    except ValueError:
        return True
    if is_private_address(str(ip), resolve=False):
        return True
    return any(is_private_address(str(v4), resolve=False) for v4 in _embedded_ipv4(ip))


def numeric_host(host: str) -> str | None:
    """The IPv4 address a numeric host spells in any form ``inet_aton`` accepts (``127.1``,
    ``0x7f.1``, ``2130706433``, ``0``), else None. These never reach DNS: the OS parses them."""
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _scope_base(host: str) -> str:
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def host_in_scope(url: str, source_url: str) -> bool:
    """True when ``url`` is on the source's host or one of its subdomains.

    A leading ``www.`` on the source host is ignored, so a source at ``www.example.com``
    covers ``example.com`` and ``news.example.com`` too. Only http(s) URLs are in scope.
    """
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    if scheme not in _DEFAULT_PORTS:
        return False
    host, base = url_host(url), _scope_base(url_host(source_url))
    if not host or not base:
        return False
    return host == base or host.endswith("." + base)


def redact_url(url: str) -> str:
    """``url`` fit to be shown: the credentials inside it (``user:password@``, or a lone token
    before ``@``) replaced by ``***``. Used wherever a configured URL is echoed (errors, logs,
    run reports); an unparseable URL is hidden whole rather than echoed."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed netloc
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    shown = f"{userinfo.split(':', 1)[0]}:***" if ":" in userinfo else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def redact_in(text: str, url: str) -> str:
    """``text`` with ``url`` (and the password or token inside it) redacted wherever it occurs:
    for messages that quote a URL through a third party's exception text."""
    redacted = redact_url(url)
    if redacted == url:
        return text
    text = text.replace(url, redacted).replace(url.rstrip("/"), redacted.rstrip("/"))
    try:
        parts = urlsplit(url)
        secrets = [s for s in (parts.password, parts.username if parts.password is None else None) if s]
    except ValueError:
        secrets = []
    for secret in secrets:
        text = text.replace(secret, "***").replace(unquote(secret), "***")
    return text


def absolute_url(href: str | None, base: str | None) -> str | None:
    """``href`` resolved against ``base``; None unless the result is an http(s) URL."""
    if not href or not isinstance(href, str):
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "data:", "mailto:", "tel:", "#")):
        return None
    try:
        joined = urljoin(base, href) if base else href
        scheme = urlsplit(joined).scheme
    except ValueError:
        return None
    return joined if scheme in {"http", "https"} else None


def rel_canonical(links: Iterable[Any], base_url: str | None) -> str | None:
    """The one ``rel=canonical`` rule, for the crawler and the extractor alike.

    ``links``: the page's ``<link>`` elements (anything with ``.get(attr)``), in document order.
    The first whose ``rel`` tokens include ``canonical`` (any case) and whose ``href`` resolves
    against ``base_url`` to an http(s) URL wins; a canonical with an unusable href is skipped.
    """
    for link in links:
        rels = (link.get("rel") or "").lower().split()
        if "canonical" not in rels:
            continue
        url = absolute_url(link.get("href"), base_url)
        if url is not None:
            return url
    return None
