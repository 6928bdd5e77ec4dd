"""A small static HTTP server for the bundled demo news site (and for test sites).

It behaves like a plain web server in the ways a crawler cares about: correct Content-Type with a
charset (taken from the page's own <meta charset> when it declares one), ETag/Last-Modified with
304 answers to conditional GETs, gzip files served as application/gzip (never as a transfer
encoding), 301 from a directory without its trailing slash, 404 for anything missing, query
strings ignored when mapping a path to a file. Text files (and gzipped text files) may contain
the literal `{{BASE_URL}}`, replaced by the server's own `http://127.0.0.1:PORT` at serve time, so
feeds and sitemaps carry absolute URLs without knowing the port in advance.

Every request is logged (thread-safe) so tests can assert what a crawler fetched and what it
never fetched (robots.txt-disallowed paths). No Scrapy, no Airflow: importable from anywhere.

    with serve(SITE_ROOT) as site:
        print(site.base_url)          # http://127.0.0.1:41234
        ...
        assert "/private/" not in {r.split("?")[0] for r in site.requests}

`python -m demo.server --port 8765` serves the demo site until Ctrl-C.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import logging
import mimetypes
import posixpath
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent
SITE_ROOT = DEMO_DIR / "site"
SOURCES_TEMPLATE = DEMO_DIR / "sources.yaml"
PLACEHOLDER = b"{{BASE_URL}}"

# Types a crawler must see exactly; everything else falls back to the mimetypes module.
_CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".json": "application/json",
    ".css": "text/css",
    ".js": "text/javascript",
    ".gz": "application/gzip",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# Feeds get their specific types by file name, the way CMSs serve them.
_NAMED_TYPES: dict[str, str] = {
    "feed.xml": "application/rss+xml",
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
}
_TEXT_TYPES = {"text/html", "application/xml", "text/plain", "application/json", "text/css",
               "text/javascript", "application/rss+xml", "application/atom+xml", "image/svg+xml"}
_INDEX_FILES = ("index.html", "index.xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it."""

    method: str
    path: str  # the raw request target: path plus query string
    status: int
    user_agent: str
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    def bare_path(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]


def sniff_charset(body: bytes, content_type: str) -> str | None:
    """The charset a text file declares about itself (HTML meta or XML declaration), else utf-8."""
    head = body[:2048]
    if content_type == "text/html":
        m = _META_CHARSET.search(head)
        if m:
            return m.group(1).decode("ascii").lower()
    elif content_type.endswith("xml"):
        m = _XML_ENCODING.search(head)
        if m:
            return m.group(1).decode("ascii").lower()
    return "utf-8" if content_type in _TEXT_TYPES else None


def content_type_for(path: Path) -> str:
    if path.name in _NAMED_TYPES:
        return _NAMED_TYPES[path.name]
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _substitute_gzip(body: bytes, base_url: str) -> bytes:
    """Substitute the placeholder inside a gzipped text file (a .xml.gz sitemap); re-gzip it."""
    try:
        plain = gzip.decompress(body)
    except (OSError, EOFError):
        return body  # not a valid gzip stream: serve it as it is
    if PLACEHOLDER not in plain:
        return body
    return gzip.compress(plain.replace(PLACEHOLDER, base_url.encode("ascii")), mtime=0)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteHTTPServer
    server_version = "warwatch-demo/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base
        logger.debug("%s - %s", self.address_string(), format % args)

    # --- internals -------------------------------------------------------------------------
    def _serve(self, send_body: bool) -> None:
        try:
            status, headers, body = self._respond()
        except OSError as exc:  # an unreadable file: answer 500, never kill the server thread
            logger.warning("cannot serve %s: %s", self.path, exc)
            status, headers, body = self._simple(HTTPStatus.INTERNAL_SERVER_ERROR, "Server error")
        # Record before answering, so a client that has its answer always finds it in the log.
        self.server.owner._record(
            RequestRecord(
                method=self.command,
                path=self.path,
                status=int(status),
                user_agent=self.headers.get("User-Agent", ""),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
        )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _respond(self) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        owner = self.server.owner
        if owner.latency:
            time.sleep(owner.latency)
        raw_path = urllib.parse.urlsplit(self.path).path
        target = self._resolve(raw_path)
        if target is None:
            return self._simple(HTTPStatus.NOT_FOUND, "Not found")
        if target.is_dir():
            if not raw_path.endswith("/"):
                return HTTPStatus.MOVED_PERMANENTLY, [("Location", raw_path + "/"), ("Content-Length", "0")], b""
            for name in _INDEX_FILES:
                if (target / name).is_file():
                    target = target / name
                    break
            else:
                return self._simple(HTTPStatus.NOT_FOUND, "Not found")

        body = target.read_bytes()
        ctype = content_type_for(target)
        charset = sniff_charset(body, ctype)
        if charset is not None and PLACEHOLDER in body:
            # The placeholder is ASCII, so a byte-level replace is right for utf-8 and windows-1251 alike.
            body = body.replace(PLACEHOLDER, owner.base_url.encode("ascii"))
        elif ctype == "application/gzip":
            body = _substitute_gzip(body, owner.base_url)
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        mtime = int(target.stat().st_mtime)
        validators = [("ETag", etag), ("Last-Modified", email.utils.formatdate(mtime, usegmt=True))]
        if self._not_modified(etag, mtime):
            return HTTPStatus.NOT_MODIFIED, validators, b""
        headers = [
            ("Content-Type", f"{ctype}; charset={charset}" if charset else ctype),
            ("Content-Length", str(len(body))),
            *validators,
            ("Cache-Control", "max-age=60"),
        ]
        return HTTPStatus.OK, headers, body

    def _not_modified(self, etag: str, mtime: int) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return etag in tags or "*" in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            return since is not None and mtime <= since.timestamp()
        return False

    def _resolve(self, raw_path: str) -> Path | None:
        path = posixpath.normpath(urllib.parse.unquote(raw_path))
        parts = [p for p in path.split("/") if p and p not in (".", "..")]
        root = self.server.owner.root
        candidate = root.joinpath(*parts).resolve()
        if candidate != root and root not in candidate.parents:
            return None  # path traversal
        return candidate if candidate.exists() else None

    @staticmethod
    def _simple(status: HTTPStatus, text: str) -> tuple[HTTPStatus, list[tuple[str, str]], bytes]:
        body = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{int(status)} {text}</title></head><body><h1>{text}</h1></body></html>"
        ).encode()
        return status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))], body


class _SiteHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: DemoServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class DemoServer:
    """A static site served from a background thread. Use `serve()` to create one."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"site root is not a directory: {self.root}")
        self.latency = latency
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._httpd = _SiteHTTPServer((host, port), self)
        self.host: str = host
        self.port: int = self._httpd.server_port  # the real port when 0 was asked for
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"demo-site-{self.port}", daemon=True
        )
        self._thread.start()
        logger.info("serving %s at %s", self.root, self.base_url)

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT` without a trailing slash (the value substituted for `{{BASE_URL}}`)."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    @property
    def requests(self) -> list[str]:
        """Request targets (path and query) in arrival order; a copy, safe to read any time."""
        with self._lock:
            return [r.path for r in self._records]

    @property
    def records(self) -> list[RequestRecord]:
        """Full request records (method, path, status, user agent, headers) in arrival order."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def stop(self) -> None:
        """Stop serving and release the port. Idempotent."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DemoServer(root={str(self.root)!r}, base_url={self.base_url!r})"


def serve(root: Path = SITE_ROOT, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> DemoServer:
    """Serve `root` on host:port (0: a free port) from a background thread; returns at once.

    `latency` (seconds) delays every response, for tests of timeouts and politeness.
    """
    return DemoServer(root, host=host, port=port, latency=latency)


def render_sources(base_url: str, dest: Path, template: Path = SOURCES_TEMPLATE) -> Path:
    """Write the demo sources file with `{{BASE_URL}}` replaced by `base_url`; returns `dest`."""
    text = template.read_text(encoding="utf-8").replace(PLACEHOLDER.decode(), base_url.rstrip("/"))
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--root", type=Path, default=SITE_ROOT, help="site directory (default: the demo site)")
    parser.add_argument("--sources", type=Path, help="also write a concrete sources file here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = serve(args.root, host=args.host, port=args.port)
    except OSError as exc:
        parser.exit(1, f"cannot serve on {args.host}:{args.port}: {exc}\n")
    if args.sources:
        render_sources(server.base_url, args.sources)
        print(f"sources file: {args.sources}")
    print(f"demo site at {server.base_url}/  (feed: {server.base_url}/feed.xml) - Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
