"""One webhook POST that a receiver cannot turn against us.

The receiver's URL is configuration, but its answers are not under our control (and a chat
service's URL can be moved by whoever runs the name):

- no redirects: a 3xx is a failed delivery, never a second request somewhere else (a 302 to
  ``http://169.254.169.254/`` would otherwise read cloud credentials);
- the crawler's address rule (:func:`indexing.urls.address_is_private`) on every address the
  name resolves to; only allowed addresses are connected to (no second lookup a rebinding name
  could answer differently). A channel opts in to private addresses explicitly
  (``allow_private_network``: intranet receivers, tests on 127.0.0.1);
- proxy variables (``HTTP_PROXY``...) are not consulted: the request goes where it was checked;
- one deadline for the whole exchange (lookup, connect, TLS, request, answer): a receiver that
  drips its answer one byte at a time is cut at the deadline, not kept alive per socket read;
- of the answer only the status line, the headers and at most :data:`SNIPPET_BYTES` of a
  failure's body are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from indexing.urls import address_is_private

#: how much of a failure's body goes into the error message
SNIPPET_BYTES = 512
#: at most this many resolved addresses are tried
MAX_ADDRESSES = 8

Address = tuple[int, tuple[object, ...]]  # (family, sockaddr) as getaddrinfo gives them


class WebhookError(Exception):
    """The POST failed. ``permanent``: retrying now will not help (a refused address, a
    redirect, a 4xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise WebhookError(f"webhook URL is malformed: {exc}", permanent=True) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("webhook URL is not http(s)", permanent=True)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


class _Deadline:
    """Seconds left of one total budget; :meth:`guard` cuts a socket when it runs out."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._answered = False

    def left(self) -> float:
        left = self._end - self._clock()
        if left <= 0:
            self.expired.set()
            raise WebhookError(f"webhook: no answer within the deadline of {self.seconds:g} s")
        return left

    def answered(self) -> None:
        """A 2xx status line and its headers are in: the alert is delivered, the guard must not turn
        that into a failure (and a retry: a second copy) any more. Raises if it cut the socket
        first (headers cut short by the cut parse as if complete)."""
        with self._lock:
            if self.expired.is_set():
                raise WebhookError(f"webhook: no answer within the deadline of {self.seconds:g} s")
            self._answered = True

    def guard(self, sock: socket.socket) -> threading.Timer:
        """A timer that shuts the socket down at the deadline: every blocked read or write on it
        returns at once, whatever the per-operation timeouts say."""
        def cut() -> None:
            with self._lock:
                if self._answered:
                    return
                self.expired.set()
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under TLS too
            except OSError:
                pass

        timer = threading.Timer(self.left(), cut)
        timer.daemon = True
        timer.start()
        return timer


def resolve(host: str, port: int, deadline: _Deadline) -> list[Address]:
    """getaddrinfo in a helper thread, waited for until the deadline (it has no timeout of its own)."""
    box: list[list[Address] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
            box.append([(int(family), tuple(addr)) for family, _t, _p, _c, addr in infos])
        except (OSError, UnicodeError) as exc:
            box.append(exc)
        done.set()

    threading.Thread(target=lookup, name="webhook-dns", daemon=True).start()
    if not done.wait(deadline.left()):
        raise WebhookError(f"webhook: looking up {host} took longer than the deadline of {deadline.seconds:g} s")
    result = box[0]
    if isinstance(result, BaseException):
        raise WebhookError(f"webhook unreachable: cannot resolve {host}: {result}")
    return list(dict.fromkeys(result))[:MAX_ADDRESSES]


def allowed_addresses(host: str, addresses: list[Address], allow_private: bool) -> list[Address]:
    if allow_private:
        return addresses
    allowed = [a for a in addresses if not address_is_private(str(a[1][0]))]
    if not allowed:
        shown = ", ".join(sorted({str(a[1][0]) for a in addresses})) or "no address"
        raise WebhookError(f"webhook host {host} resolves to a private address ({shown}); set "
                           "allow_private_network: true on the channel to allow it", permanent=True)
    return allowed


def _connect(target: Target, addresses: list[Address], deadline: _Deadline) -> socket.socket:
    last: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.left())
            sock.connect(sockaddr)
            if target.scheme == "https":
                sock.settimeout(deadline.left())
                return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise WebhookError(f"webhook unreachable: {target.host}:{target.port}: {last}")


def _exchange(conn: http.client.HTTPConnection, sock: socket.socket, target: Target, body: bytes,
              headers: dict[str, str], deadline: _Deadline) -> None:
    # ``sock``, not ``conn.sock``: http.client hands the socket to the response (and sets
    # ``conn.sock`` to None) when the answer closes the connection
    sock.settimeout(deadline.left())
    conn.request("POST", target.path, body=body, headers=headers)
    resp = conn.getresponse()
    status = resp.status
    if 200 <= status < 300:
        deadline.answered()
        return  # accepted: the body says nothing we need, and is not read
    if deadline.expired.is_set():  # cut short: whatever parsed is not an answer
        raise WebhookError(f"webhook: no answer within the deadline of {deadline.seconds:g} s")
    if 300 <= status < 400:
        raise WebhookError(f"webhook answered HTTP {status} (a redirect, not followed)", permanent=True)
    snippet = b""
    try:
        sock.settimeout(deadline.left())
        snippet = resp.read(SNIPPET_BYTES)
    except (OSError, http.client.HTTPException, WebhookError):
        pass
    # 408/425/429 and 5xx are the receiver's passing trouble; other 4xx will not change by retrying now.
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    text = snippet.decode("utf-8", "replace").strip()
    raise WebhookError(f"webhook answered HTTP {status}" + (f": {text[:200]!r}" if text else ""), permanent=permanent)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool = False,
         clock: Callable[[], float] = time.monotonic) -> None:
    """POST ``body`` to ``url`` within ``timeout`` seconds in all. Returns on a 2xx answer; raises
    :class:`WebhookError` otherwise."""
    target = parse_target(url)
    deadline = _Deadline(timeout, clock)
    addresses = allowed_addresses(target.host, resolve(target.host, target.port, deadline), allow_private)
    sock = _connect(target, addresses, deadline)
    timer = deadline.guard(sock)
    kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = kind(target.host, target.port)
    conn.sock = sock  # connected above, to a checked address: http.client does not connect again
    try:
        _exchange(conn, sock, target, body, headers, deadline)
    except (OSError, http.client.HTTPException) as exc:
        if deadline.expired.is_set():
            raise WebhookError(f"webhook: no answer within the deadline of {deadline.seconds:g} s") from exc
        raise WebhookError(f"webhook unreachable: {exc}") from exc
    finally:
        timer.cancel()
        conn.close()
        sock.close()
