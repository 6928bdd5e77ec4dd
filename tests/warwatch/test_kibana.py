"""Kibana saved objects: in step with the code, every referenced field mapped, import over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from indexing.engine import connect
from indexing.index import templates
from indexing.index.setup import changes_index, runs_index, setup_indices
from indexing.settings import get_settings
from warwatch.kibana import (
    CHANGES_DASHBOARD_ID,
    CHANGES_VIEW_ID,
    DASHBOARD_ID,
    DATA_VIEW_ID,
    RUNS_DASHBOARD_ID,
    RUNS_VIEW_ID,
    KibanaError,
    build_saved_objects,
    data_view_of,
    import_saved_objects,
    load_topics,
    ndjson_path,
    referenced_fields,
    referenced_fields_by_view,
    to_ndjson,
)


def _objects() -> list[dict]:
    return [json.loads(line) for line in ndjson_path().read_text(encoding="utf-8").splitlines() if line]


def test_checked_in_file_is_generated_from_the_code() -> None:
    assert ndjson_path().read_text(encoding="utf-8") == to_ndjson(build_saved_objects()), \
        "regenerate with: warwatch kibana write"


def test_objects_cover_the_dashboard_and_every_topic() -> None:
    objs = _objects()
    by_type: dict[str, list[dict]] = {}
    for o in objs:
        by_type.setdefault(o["type"], []).append(o)
    views = {v["id"]: v["attributes"] for v in by_type["index-pattern"]}
    assert set(views) == {DATA_VIEW_ID, RUNS_VIEW_ID, CHANGES_VIEW_ID}
    assert (views[DATA_VIEW_ID]["title"], views[DATA_VIEW_ID]["timeFieldName"]) == ("warwatch-articles", "published")
    topic_ids = {t["id"] for t in load_topics()}
    assert len(topic_ids) >= 7
    queries = {json.loads(s["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
               for s in by_type["search"]}
    assert {f'topics : "{t}"' for t in topic_ids} <= queries
    dashboards = {d["id"]: d for d in by_type["dashboard"]}
    assert set(dashboards) == {DASHBOARD_ID, RUNS_DASHBOARD_ID, CHANGES_DASHBOARD_ID}
    dash = dashboards[DASHBOARD_ID]
    ids = {o["id"] for o in objs}
    panel_refs = dash["references"]
    assert len(panel_refs) == len(json.loads(dash["attributes"]["panelsJSON"])) == 6
    assert all(r["id"] in ids for r in panel_refs)
    assert {"map", "search", "visualization"} == {r["type"] for r in panel_refs}
    for o in objs:  # every reference resolves inside the file
        assert all(r["id"] in ids for r in o["references"]), o["id"]


def test_runs_dashboard_reads_the_runs_data_view() -> None:
    objs = {o["id"]: o for o in _objects()}
    view = objs[RUNS_VIEW_ID]["attributes"]
    assert (view["title"], view["timeFieldName"]) == ("warwatch-runs", "finished_at")
    dash = objs[RUNS_DASHBOARD_ID]
    assert dash["attributes"]["title"] == "warwatch: pipeline health"
    panels = json.loads(dash["attributes"]["panelsJSON"])
    assert len(panels) == len(dash["references"]) >= 5
    kinds = {objs[r["id"]]["type"] for r in dash["references"]}
    assert kinds == {"visualization", "search"}
    for ref in dash["references"]:  # every panel reads the runs, none the articles
        assert data_view_of(objs[ref["id"]]) == RUNS_VIEW_ID, ref["id"]
    titles = " ".join(objs[r["id"]]["attributes"]["title"] for r in dash["references"])
    for what in ("new articles", "freshness lag", "failures", "failure reasons", "latest runs"):
        assert what in titles, what


def _mapped(properties: dict) -> set[str]:
    return {name for name in properties} | {f"{name}.{sub}" for name, spec in properties.items()
                                            for sub in spec.get("fields", {})}


def test_every_referenced_field_is_in_the_mapping() -> None:
    by_view = referenced_fields_by_view(_objects())
    assert set(by_view) == {DATA_VIEW_ID, RUNS_VIEW_ID, CHANGES_VIEW_ID}
    fields = by_view[DATA_VIEW_ID]
    assert {"published", "topics", "source", "language", "entity_canonical", "locations"} <= fields
    assert fields <= templates.mapped_fields(), fields - templates.mapped_fields()
    runs = by_view[RUNS_VIEW_ID]
    assert {"finished_at", "source", "new", "failed", "error_ratio", "freshness_lag_median_seconds",
            "failure_reasons"} <= runs
    runs_mapped = _mapped(templates.runs_mappings()["properties"])
    assert runs <= runs_mapped, runs - runs_mapped
    changes = by_view[CHANGES_VIEW_ID]
    assert {"detected_at", "source", "kinds", "before", "after"} <= changes
    changes_mapped = _mapped(templates.changes_mappings()["properties"])
    assert changes <= changes_mapped, changes - changes_mapped
    assert referenced_fields(_objects()) == fields | runs | changes


def test_every_referenced_field_exists_in_the_live_index(index_prefix: str) -> None:
    engine = connect(get_settings())
    index = setup_indices(engine, get_settings().index_prefix)
    mapping = engine.get_mapping(index)[index]["mappings"]["properties"]
    for f in referenced_fields_by_view(_objects())[DATA_VIEW_ID]:
        node = mapping
        parts = f.split(".")
        for part in parts:
            assert part in node, f
            spec = node[part]
            node = spec.get("properties") or spec.get("fields") or {}
        if f == "locations":
            assert spec["type"] == "geo_point"
    # aggregated fields must be aggregatable: keyword or date
    for f in ("topics", "source", "language", "entity_canonical"):
        assert mapping[f]["type"] == "keyword"
    runs = engine.get_mapping(runs_index(get_settings().index_prefix))[runs_index(get_settings().index_prefix)]["mappings"]["properties"]
    aggregatable = {"keyword", "date", "integer", "long", "float"}
    for f in referenced_fields_by_view(_objects())[RUNS_VIEW_ID]:
        assert runs[f]["type"] in aggregatable, f
    cindex = changes_index(get_settings().index_prefix)
    changes = engine.get_mapping(cindex)[cindex]["mappings"]["properties"]
    for f in referenced_fields_by_view(_objects())[CHANGES_VIEW_ID]:
        assert f in changes, f
    for f in ("detected_at", "source", "kinds"):  # what the charts aggregate on
        assert changes[f]["type"] in aggregatable, f


def test_changes_dashboard_charts_changes_per_source_per_day() -> None:
    objs = {o["id"]: o for o in _objects()}
    assert objs[CHANGES_VIEW_ID]["attributes"]["title"] == "warwatch-changes"
    dash = objs[CHANGES_DASHBOARD_ID]
    for ref in dash["references"]:
        assert data_view_of(objs[ref["id"]]) == CHANGES_VIEW_ID, ref["id"]
    titles = {objs[r["id"]]["attributes"]["title"] for r in dash["references"]}
    assert {"warwatch: changes per source per day", "warwatch: edits and takedowns"} <= titles
    per_day = next(o for o in objs.values() if o["attributes"].get("title") == "warwatch: changes per source per day")
    aggs = json.loads(per_day["attributes"]["visState"])["aggs"]
    assert [(a["type"], a["params"].get("field")) for a in aggs[1:]] == [("date_histogram", "detected_at"),
                                                                         ("terms", "source")]


class _FakeKibana(BaseHTTPRequestHandler):
    """Kibana's import endpoint for the client side of the test: records what it receives.
    (No Kibana can run here; the request format is Kibana's documented multipart upload.)"""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        ndjson = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0].decode()
        n = len([line for line in ndjson.splitlines() if line.strip()])
        ok = self.headers.get("kbn-xsrf") and self.path == "/api/saved_objects/_import?overwrite=true"
        payload = {"success": bool(ok), "successCount": n if ok else 0}
        out = json.dumps(payload).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kibana() -> Iterator[str]:
    _FakeKibana.received = []
    srv = HTTPServer(("127.0.0.1", 0), _FakeKibana)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_import_posts_multipart_with_prefix_and_auth(kibana: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.settings import reset_settings

    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", "prod-")
    monkeypatch.setenv("WARWATCH_ES_USER", "elastic")
    monkeypatch.setenv("WARWATCH_ES_PASSWORD", "s3cret")
    reset_settings()
    result = import_saved_objects(kibana)
    assert result["success"] is True and result["successCount"] == len(_objects())
    (req,) = _FakeKibana.received
    assert req["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert req["headers"]["Authorization"].startswith("Basic ")
    assert b'"title": "prod-articles"' in req["body"] and b'"title": "warwatch-articles"' not in req["body"]
    assert b'"title": "prod-runs"' in req["body"] and b'"title": "warwatch-runs"' not in req["body"]
    assert DATA_VIEW_ID.encode() in req["body"]


def test_import_reports_an_unreachable_kibana(tmp_path: Path) -> None:
    with pytest.raises(KibanaError, match="not reachable"):
        import_saved_objects("http://127.0.0.1:9", timeout=2)


def test_cli_write_regenerates_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`warwatch kibana write` (no module main of its own) writes what build_saved_objects builds."""
    import shutil

    from indexing.settings import get_settings, reset_settings
    from warwatch.cli import main

    config = tmp_path / "config"
    shutil.copytree(get_settings().config_dir, config)
    (config / "kibana" / "warwatch.ndjson").unlink()
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(config))
    reset_settings()
    assert main(["kibana", "write"]) == 0
    assert (config / "kibana" / "warwatch.ndjson").read_text(encoding="utf-8") == to_ndjson(build_saved_objects())
    assert main(["kibana", "import"]) == 2  # import still needs --url


class _Redirect(BaseHTTPRequestHandler):
    """A "Kibana" that sends every request to another host."""

    target = ""

    def do_POST(self) -> None:  # noqa: N802
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def test_import_does_not_follow_a_redirect_with_credentials(
    kibana: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexing.settings import reset_settings

    monkeypatch.setenv("WARWATCH_ES_USER", "elastic")
    monkeypatch.setenv("WARWATCH_ES_PASSWORD", "s3cret")
    reset_settings()
    _Redirect.target = kibana  # the other host: it must receive nothing
    srv = HTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(KibanaError, match="307.*not following it with credentials"):
            import_saved_objects(f"http://127.0.0.1:{srv.server_address[1]}")
    finally:
        srv.shutdown()
        srv.server_close()
    assert _FakeKibana.received == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:5601", "http://"])
def test_import_refuses_urls_that_are_not_http(url: str, kibana: str) -> None:
    with pytest.raises(KibanaError, match="must be http:// or https://"):
        import_saved_objects(url)
    assert _FakeKibana.received == []


def test_import_errors_do_not_show_credentials_in_the_url() -> None:
    with pytest.raises(KibanaError) as err:
        import_saved_objects("http://elastic:hunter2@127.0.0.1:9", timeout=2)
    assert "hunter2" not in str(err.value) and "elastic:***@127.0.0.1:9" in str(err.value)
