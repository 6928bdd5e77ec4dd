"""What answers on a port: the node's HTTP API, cluster health, whether the port is taken."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any

from warwatch.localnode.engines import HOST, is_our_cluster_name, url_of

_ERRORS = (OSError, ValueError, urllib.error.URLError, http.client.HTTPException)

#: ports of secured nodes: (CA file, user, password) to ask them with over TLS (secure.py)
ACCESS: dict[int, tuple[str, str, str]] = {}


def _open(port: int, path: str, timeout: float) -> Any:
    """GET ``path`` on the node: plain HTTP, or HTTPS with basic auth for a secured node."""
    access = ACCESS.get(port)
    if access is None:
        return urllib.request.urlopen(url_of(port) + path, timeout=timeout)  # noqa: S310 - loopback only
    ca, user, password = access
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(f"https://{HOST}:{port}{path}", headers={"Authorization": f"Basic {auth}"})
    return urllib.request.urlopen(req, timeout=timeout, context=ssl.create_default_context(cafile=ca))  # noqa: S310


def _engine_of(headers: Any) -> str:
    if headers.get("X-OpenSearch-Version") or "opensearch" in str(headers.get("Server", "")).lower():
        return "opensearch"
    return "elasticsearch" if headers.get("X-elastic-product") else "unknown"


def probe(port: int, timeout: float = 3.0) -> dict[str, Any] | None:
    """Who answers on the port: ``{"name", "cluster_name", "engine", "version", "pid"}``, or None
    when no search node answers. Uses ``GET _nodes/_local`` because Elastic's integ-test
    distribution has no ``GET /`` (its rest-root module is not included). What it says is a claim,
    not a proof: any HTTP server can answer like this (see proc.py for the proof)."""
    path = "/_nodes/_local?filter_path=cluster_name,nodes.*.name,nodes.*.version,nodes.*.process.id"
    try:
        with _open(port, path, timeout) as resp:
            body = json.load(resp)
            headers = resp.headers
    except _ERRORS:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("nodes"), dict) or len(body["nodes"]) != 1:
        return None
    node = next(iter(body["nodes"].values()))
    if not isinstance(node, dict):
        return None
    pid = (node.get("process") or {}).get("id")
    return {
        "name": node.get("name"),
        "cluster_name": body.get("cluster_name"),
        "engine": _engine_of(headers),
        "version": node.get("version"),
        "pid": pid if isinstance(pid, int) else None,
    }


def claims_ours(info: dict[str, Any] | None, port: int) -> bool:
    """The answer says it is a node started here (cluster and node name); a claim only."""
    return info is not None and is_our_cluster_name(info.get("cluster_name")) and info.get("name") == f"warwatch-{port}"


def health(port: int, timeout: float = 3.0) -> str | None:
    try:
        with _open(port, "/_cluster/health?timeout=1s", timeout) as resp:
            body = json.load(resp)
    except _ERRORS:
        return None
    return str(body.get("status")) if isinstance(body, dict) else None


def port_in_use(port: int) -> bool:
    """True when something listens on the port (on 127.0.0.1 or on all addresses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        if s.connect_ex((HOST, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False
