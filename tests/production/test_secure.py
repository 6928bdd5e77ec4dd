"""Security on (issue #18 §3): a local Elasticsearch node with TLS on HTTP and authentication;
warwatch connects over TLS (WARWATCH_ES_CA_CERTS) with a credential limited to its own indices."""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request

import pytest

from indexing.settings import get_settings, reset_settings
from tests.production.conftest import SECURE_PREFIX, SecureNode


def test_secured_node_tls_and_a_credential_limited_to_warwatch_indices(
        secure_elasticsearch: SecureNode, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.engine import EngineError, connect

    node = secure_elasticsearch
    sdir = node.secure_dir
    assert node.url.startswith("http://127.0.0.1:")  # the port it is bound to (loopback only)
    https = node.url.replace("http://", "https://")
    # secrets are files of ours, 0600, in the node dir (never in the checkout)
    for name in ("ca.crt", "node.key", "elastic-password", "warwatch-password"):
        assert os.stat(sdir / name).st_mode & 0o077 == 0, name
    # plain HTTP gets no answer a client could use; TLS without credentials is refused (401)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(node.url + "/_cluster/health", timeout=5)  # noqa: S310
    ctx = ssl.create_default_context(cafile=str(sdir / "ca.crt"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(https + "/_cluster/health", timeout=5, context=ctx)  # noqa: S310
    assert refused.value.code == 401

    monkeypatch.setenv("WARWATCH_ES_URL", https)
    monkeypatch.setenv("WARWATCH_ES_CA_CERTS", str(sdir / "ca.crt"))
    monkeypatch.setenv("WARWATCH_ES_USER", "warwatch")
    monkeypatch.setenv("WARWATCH_ES_PASSWORD", node.secret("warwatch-password"))
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", SECURE_PREFIX)
    reset_settings()
    engine = connect(get_settings())
    try:
        assert engine.flavor == "elasticsearch" and engine.health()["status"] in ("green", "yellow")
        name, alias = f"{SECURE_PREFIX}t-v1", f"{SECURE_PREFIX}t"
        engine.create_index(name, {"mappings": {"properties": {"t": {"type": "text"}}}})
        engine.update_aliases([{"add": {"index": name, "alias": alias}}])
        resp = engine.bulk([{"index": {"_index": alias, "_id": "a"}}, {"t": "North Korean troops"}], refresh=True)
        assert resp["errors"] is False
        assert engine.search(alias, {"query": {"match": {"t": "troops"}}})["hits"]["hits"][0]["_id"] == "a"
        for attempt in (lambda: engine.create_index("other-index"),
                        lambda: engine.search("other-index", {"query": {"match_all": {}}})):
            with pytest.raises(EngineError) as denied:
                attempt()
            assert denied.value.status == 403
    finally:
        engine.close()
    # A wrong password is refused with a clear error, not a crash.
    monkeypatch.setenv("WARWATCH_ES_PASSWORD", "wrong")
    reset_settings()
    with pytest.raises(EngineError) as wrong:
        connect(get_settings())
    assert wrong.value.status == 401
