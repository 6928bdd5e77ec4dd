"""A thin adapter over the two official clients: ``elasticsearch`` (production) and
``opensearch-py`` (the local node, when Elasticsearch cannot get its modules here).

The flavour is chosen from the server's ``GET /`` (``version.distribution == "opensearch"``),
so the same code runs unchanged against both. Every operation takes and returns plain dicts
(request bodies as in the REST API), and client exceptions become :class:`EngineUnavailable`
(the node cannot be reached, or answers 429/5xx) or :class:`EngineError` (the request was wrong).
Nothing here depends on an x-pack feature. Vectors (their encoding, mapping, kNN search) are
:mod:`indexing.embeddings.vectors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from indexing.engine_errors import (
    RETRYABLE_STATUSES,
    EngineError,
    EngineUnavailable,
    NotFound,
    error_type,
    translate,
)
from indexing.settings import Settings
from indexing.urls import redact_in, redact_url

log = logging.getLogger(__name__)

Flavor = Literal["elasticsearch", "opensearch"]
T = TypeVar("T")


@dataclass(frozen=True)
class ServerInfo:
    flavor: Flavor
    version: str
    cluster_name: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _body(resp: Any) -> Any:
    """ES 8/9 returns ObjectApiResponse (``.body``); opensearch-py returns the dict itself."""
    return getattr(resp, "body", resp)


class Engine:
    """The operations warwatch needs, over whichever client fits the server."""

    def __init__(self, client: Any, server: ServerInfo, url: str) -> None:
        self.client = client
        self.server = server
        self.url = url
        #: Elasticsearch clients with per-request options, by options (see :meth:`_with_options`)
        self._optioned: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    @property
    def flavor(self) -> Flavor:
        return self.server.flavor

    def __repr__(self) -> str:
        return f"Engine({self.server.flavor} {self.server.version} at {redact_url(self.url)})"

    # -- plumbing ----------------------------------------------------------
    def _call(self, api: str, /, *, request_timeout: float | None = None, expect_404: bool = False,
              **kwargs: Any) -> Any:
        """Call ``api`` (``"search"``, ``"indices.create"``...) on the client; map its exceptions.

        ``expect_404``: a 404 is an ordinary answer (raised as :class:`NotFound` all the same),
        so the client must not log it as a failed request.
        """
        client = self.client
        options: dict[str, Any] = {}
        if request_timeout is not None:
            options["request_timeout"] = request_timeout
        if expect_404:
            options["ignore_status" if self.flavor == "elasticsearch" else "ignore"] = 404
        if options:
            if self.flavor == "elasticsearch":
                client = self._with_options(options)
            else:
                kwargs.update(options)
        fn: Callable[..., Any] = client
        for part in api.split("."):
            fn = getattr(fn, part)
        try:
            resp = fn(**kwargs)
        except Exception as exc:  # translated to our exception types, or re-raised unchanged
            raise translate(exc) from exc
        if expect_404:
            meta = getattr(resp, "meta", None)
            body = _body(resp)
            status = getattr(meta, "status", None) if meta is not None else (
                body.get("status") if isinstance(body, Mapping) and "error" in body else None)
            if status == 404:
                raise NotFound(f"not found: {api} {kwargs.get('index') or kwargs.get('name') or ''}".strip(),
                               status=404, error_type=error_type(body), info=body)
            return body
        return _body(resp)

    def _with_options(self, options: dict[str, Any]) -> Any:
        """``client.options(**options)``, made once per set of options: it copies the client
        (~0.2 ms, on every request of a search otherwise); made again if ``client`` was replaced."""
        key = tuple(sorted(options.items()))
        made = self._optioned.get(key)
        if made is None or made[0] is not self.client:
            if len(self._optioned) >= 64:  # timeouts come from settings: a few; a bound all the same
                self._optioned.clear()
            made = self._optioned[key] = (self.client, self.client.options(**options))
        return made[1]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception as exc:  # closing a pool must never mask the real outcome
            log.debug("closing the client failed: %s", exc)

    # -- cluster -----------------------------------------------------------
    def info(self) -> dict[str, Any]:
        try:
            return dict(self._call("info"))
        except EngineError as exc:
            if exc.status not in (404, 405):
                raise
            # An Elasticsearch node without the optional rest-root module has no GET /.
            return {"cluster_name": self.server.cluster_name,
                    "version": {"number": self.server.version, "distribution": self.server.flavor}}

    def health(self, *, index: str | None = None, wait_for_status: str | None = None,
               timeout: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if index:
            kwargs["index"] = index
        if wait_for_status:
            kwargs["wait_for_status"] = wait_for_status
        if timeout:
            kwargs["timeout"] = timeout
        return dict(self._call("cluster.health", **kwargs))

    # -- templates and indices -------------------------------------------
    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call("cluster.put_component_template", name=name, body=dict(body))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call("indices.put_index_template", name=name, body=dict(body))

    def get_index_template(self, name: str) -> dict[str, Any] | None:
        try:
            resp = self._call("indices.get_index_template", expect_404=True, name=name)
        except NotFound:
            return None
        templates = resp.get("index_templates") or []
        return dict(templates[0]["index_template"]) if templates else None

    def create_index(self, name: str, body: Mapping[str, Any] | None = None) -> bool:
        """Create ``name``; False (no error) when it already exists."""
        if self.index_exists(name):  # spares the engine's (logged) 400 on the common path
            return False
        try:
            self._call("indices.create", index=name, body=dict(body or {}))
        except EngineError as exc:
            if exc.error_type == "resource_already_exists_exception":
                return False
            raise
        return True

    def index_exists(self, name: str) -> bool:
        try:
            return bool(self._call("indices.exists", expect_404=True, index=name))
        except NotFound:
            return False

    def delete_index(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist."""
        try:
            self._call("indices.delete", expect_404=True, index=name)
        except NotFound:
            return False
        return True

    def get_mapping(self, index: str) -> dict[str, Any]:
        return dict(self._call("indices.get_mapping", index=index))

    def put_mapping(self, index: str, body: Mapping[str, Any]) -> None:
        self._call("indices.put_mapping", index=index, body=dict(body))

    def index_setting(self, index: str, name: str) -> dict[str, Any]:
        """``{index_name: value}`` of setting ``name`` (flat: ``index.knn``) behind ``index`` (None: unset)."""
        resp = self._call("indices.get_settings", index=index, name=name, flat_settings=True)
        return {idx: (spec.get("settings") or {}).get(name) for idx, spec in dict(resp).items()}

    def plugins(self) -> set[str]:
        """The plugins (components) installed on the cluster's nodes."""
        return {str(r.get("component")) for r in self._call("cat.plugins", format="json") or [] if isinstance(r, Mapping)}

    def get_alias(self, name: str) -> dict[str, Any]:
        """``{index_name: {"aliases": {...}}}`` for every index behind alias ``name``; {} if none."""
        try:
            return dict(self._call("indices.get_alias", expect_404=True, name=name))
        except NotFound:
            return {}

    def update_aliases(self, actions: Sequence[Mapping[str, Any]]) -> None:
        """Apply alias actions atomically (one request)."""
        self._call("indices.update_aliases", body={"actions": [dict(a) for a in actions]})

    def refresh(self, index: str) -> None:
        self._call("indices.refresh", index=index)

    def analyze(self, body: Mapping[str, Any], *, index: str | None = None) -> list[str]:
        """The tokens the engine produces for ``body`` (``{"analyzer": ..., "text": ...}``)."""
        kwargs: dict[str, Any] = {"body": dict(body)}
        if index:
            kwargs["index"] = index
        resp = self._call("indices.analyze", **kwargs)
        return [t["token"] for t in resp.get("tokens", [])]

    # -- documents -------------------------------------------------------
    def bulk(self, operations: Sequence[Mapping[str, Any]] | str, *, refresh: bool | str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """One ``_bulk`` request. ``operations`` is the list of action/source dicts or NDJSON text."""
        kwargs: dict[str, Any] = {"body": operations}
        if refresh is not None:
            kwargs["refresh"] = refresh if isinstance(refresh, str) else ("true" if refresh else "false")
        return dict(self._call("bulk", request_timeout=timeout, **kwargs))

    def search(self, index: str, body: Mapping[str, Any], **params: Any) -> dict[str, Any]:
        return dict(self._call("search", index=index, body=dict(body), **params))

    def count(self, index: str, body: Mapping[str, Any] | None = None) -> int:
        kwargs: dict[str, Any] = {"index": index}
        if body:
            kwargs["body"] = dict(body)
        return int(self._call("count", **kwargs)["count"])

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        """The document's ``_source`` (with ``_id``), or None when absent."""
        try:
            resp = self._call("get", expect_404=True, index=index, id=doc_id)
        except NotFound:
            return None
        if not resp.get("found"):
            return None
        return {"_id": resp["_id"], "_index": resp["_index"], **resp.get("_source", {})}

    def mget(self, index: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{id: _source}`` for the ids that exist."""
        id_list = list(dict.fromkeys(ids))
        if not id_list:
            return {}
        resp = self._call("mget", index=index, body={"ids": id_list})
        return {d["_id"]: d.get("_source", {}) for d in resp.get("docs", []) if d.get("found")}

    def delete_by_query(self, index: str, query: Mapping[str, Any]) -> int:
        """Delete the documents of ``index`` matching ``query`` (waits); how many were deleted."""
        resp = self._call("delete_by_query", index=index, body={"query": dict(query)}, refresh=True,
                          conflicts="proceed")
        return int(resp.get("deleted", 0))

    def reindex(self, source_index: str, dest_index: str, *, query: Mapping[str, Any] | None = None,
                refresh: bool = True, timeout: str = "10m") -> dict[str, Any]:
        """Copy the documents of ``source_index`` (those matching ``query``) into ``dest_index``.

        Waits for completion; a large index may take minutes, hence the long request timeout.
        """
        source: dict[str, Any] = {"index": source_index}
        if query is not None:
            source["query"] = dict(query)
        return dict(self._call("reindex", request_timeout=900.0,
                               body={"source": source, "dest": {"index": dest_index}},
                               refresh=refresh, wait_for_completion=True, timeout=timeout))


# -- construction ------------------------------------------------------------

def _secret(value: Any) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _auth_and_tls(settings: Settings, basic_auth: str, api_key: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Client arguments for the configured credentials and CA: the user and password under the
    client's ``basic_auth`` name, the API key as ``api_key(key)`` gives it."""
    kwargs: dict[str, Any] = {}
    password = _secret(settings.es_password)
    if settings.es_user and password is not None:
        kwargs[basic_auth] = (settings.es_user, password)
    key = _secret(settings.es_api_key)
    if key:
        kwargs.update(api_key(key))
    if settings.es_ca_certs:
        kwargs["ca_certs"] = str(settings.es_ca_certs)
    return kwargs


def es_urls(value: str) -> list[str]:
    """The node URLs of a ``WARWATCH_ES_URL``: one URL, or several separated by commas (the
    nodes of one cluster; a request goes to another node when one cannot be reached)."""
    urls = [u.strip().rstrip("/") for u in value.split(",") if u.strip()]
    if not urls:
        raise EngineError("no search engine URL configured (WARWATCH_ES_URL is empty)")
    return list(dict.fromkeys(urls))


def _failover(urls: Sequence[str]) -> dict[str, Any]:
    """Several nodes: a request that cannot reach one (or gets 502/503/504) goes to the next;
    429 stays ours (bulk.py backs off). One node: no client retries at all."""
    return {"max_retries": len(urls) - 1, "retry_on_status": (502, 503, 504) if len(urls) > 1 else ()}


def _opensearch_client(settings: Settings, urls: Sequence[str]) -> Any:
    import opensearchpy

    kwargs: dict[str, Any] = {
        "hosts": list(urls),
        "timeout": settings.es_request_timeout,
        **_failover(urls),  # retries of busy nodes are ours (bulk.py), with backoff
        # hybrid search asks from two threads at once (indexing/search/hybrid.py); the default pool is 1
        "pool_maxsize": 4,
        "verify_certs": settings.es_verify_certs,
        "ssl_show_warn": settings.es_verify_certs,
    }
    kwargs.update(_auth_and_tls(settings, "http_auth", lambda key: {"headers": {"Authorization": f"ApiKey {key}"}}))
    return opensearchpy.OpenSearch(**kwargs)


def _elasticsearch_client(settings: Settings, urls: Sequence[str]) -> Any:
    import elasticsearch

    kwargs: dict[str, Any] = {
        "request_timeout": settings.es_request_timeout,
        **_failover(urls),
        "retry_on_timeout": False,
        "verify_certs": settings.es_verify_certs,
    }
    kwargs.update(_auth_and_tls(settings, "basic_auth", lambda key: {"api_key": key}))
    if not settings.es_verify_certs:
        kwargs["ssl_show_warn"] = False
    return elasticsearch.Elasticsearch(list(urls), **kwargs)


def _raw_get(settings: Settings, url: str, path: str) -> tuple[int, Mapping[str, str], Any]:
    """A product-neutral GET (urllib3, which both clients use) with the configured auth and TLS:
    status, headers and parsed JSON body (None when not JSON)."""
    import json

    import urllib3

    headers: dict[str, str] = {"Accept": "application/json"}
    password = _secret(settings.es_password)
    api_key = _secret(settings.es_api_key)
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif settings.es_user and password is not None:
        headers.update(urllib3.make_headers(basic_auth=f"{settings.es_user}:{password}"))
    kwargs: dict[str, Any] = {"timeout": urllib3.Timeout(total=settings.es_request_timeout), "retries": False}
    if url.startswith("https"):
        kwargs["cert_reqs"] = "CERT_REQUIRED" if settings.es_verify_certs else "CERT_NONE"
        if settings.es_ca_certs:
            kwargs["ca_certs"] = str(settings.es_ca_certs)
    pool = urllib3.PoolManager(**kwargs)
    try:
        resp = pool.request("GET", url.rstrip("/") + path, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        raise EngineUnavailable(f"search engine unreachable at {redact_url(url)}: {redact_in(str(exc), url)}") from exc
    finally:
        pool.clear()
    try:
        body = json.loads(resp.data) if resp.data else None
    except ValueError:
        body = None
    return resp.status, resp.headers, body


def probe(settings: Settings, url: str | None = None) -> ServerInfo:
    """Which engine answers at ``url`` (or the first of several comma-separated URLs that
    answers): see :func:`probe_one`."""
    return _probe_any(settings, es_urls(url or settings.es_url))[0]


def _probe_any(settings: Settings, urls: Sequence[str]) -> tuple[ServerInfo, str]:
    """The first node of ``urls`` that answers, and its URL; EngineUnavailable when none does."""
    last: EngineUnavailable | None = None
    for url in urls:
        try:
            return probe_one(settings, url), url
        except EngineUnavailable as exc:
            last = exc
            log.info("node %s unavailable (%s); trying the next", redact_url(url), exc)
    assert last is not None  # es_urls() never returns an empty list
    raise last


def probe_one(settings: Settings, url: str) -> ServerInfo:
    """Which engine answers at ``url``: ``GET /`` (``version.distribution``), or, on a node
    without the root endpoint (Elasticsearch's rest-root module is optional), the
    ``X-Elastic-Product`` header and ``GET /_nodes/_local``."""
    url = url.rstrip("/")
    status, headers, info = _raw_get(settings, url, "/")
    if status in (401, 403):
        raise EngineError(f"search engine at {redact_url(url)} refused the credentials ({status}); check "
                          "WARWATCH_ES_USER/WARWATCH_ES_PASSWORD or WARWATCH_ES_API_KEY", status=status, info=info)
    if status == 200 and isinstance(info, Mapping) and isinstance(info.get("version"), Mapping):
        version = info["version"]
        distribution = str(version.get("distribution") or "elasticsearch").lower()
        flavor: Flavor = "opensearch" if distribution == "opensearch" else "elasticsearch"
        return ServerInfo(flavor=flavor, version=str(version.get("number", "0")),
                          cluster_name=str(info.get("cluster_name", "")))
    if status in RETRYABLE_STATUSES:
        raise EngineUnavailable(f"search engine at {redact_url(url)} answered {status}", status=status, info=info)
    product = headers.get("X-Elastic-Product", "")
    status2, _, nodes = _raw_get(settings, url, "/_nodes/_local?filter_path=cluster_name,nodes.*.version")
    if status2 != 200 or not isinstance(nodes, Mapping) or not nodes.get("nodes"):
        raise EngineError(f"no search engine recognised at {redact_url(url)} (GET / answered {status})",
                          status=status, info=info)
    node_version = str(next(iter(nodes["nodes"].values())).get("version", "0"))
    # OpenSearch always has GET /; a node without it that speaks the nodes API is Elasticsearch.
    flavor = "elasticsearch" if product or status in (404, 405) else "opensearch"
    return ServerInfo(flavor=flavor, version=node_version, cluster_name=str(nodes.get("cluster_name", "")))


def connect(settings: Settings, *, url: str | None = None) -> Engine:
    """An :class:`Engine` for ``settings.es_url`` (or ``url``) with the client that fits the server.
    Several comma-separated URLs (the nodes of one cluster) all go to the client, which sends a
    request to another node when one cannot be reached.

    Raises :class:`EngineUnavailable` when nothing answers.
    """
    urls = es_urls(url or settings.es_url)
    server, url = _probe_any(settings, urls)
    if server.flavor == "opensearch":
        client = _opensearch_client(settings, urls)
    else:
        import elasticsearch

        client_major = int(elasticsearch.__versionstr__.split(".")[0])
        if client_major != server.major:
            # The official client sends compatible-with=<its major>; a server of another major refuses it.
            log.warning("elasticsearch client %s talks to server %s: majors differ; install "
                        "elasticsearch>=%d,<%d", elasticsearch.__versionstr__, server.version,
                        server.major, server.major + 1)
        client = _elasticsearch_client(settings, urls)
    log.debug("connected to %s %s at %s", server.flavor, server.version, redact_url(url))
    return Engine(client, server, url)
