"""Install templates and indices idempotently; migrate to a new mapping version without a gap.

The pattern of elasticsearch-py's ``examples/dsl/alias_migration.py``: the composable templates
are (re)installed on every setup, the data lives in a versioned index
``{prefix}articles-v{N}`` and everyone reads and writes through the alias ``{prefix}articles``.
A migration creates ``v{N+1}`` from the new templates, reindexes, catches up with what was
written meanwhile, and moves the alias in one atomic ``_aliases`` call, so search never sees an
empty or missing index.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from indexing.embeddings.vectors import carry_vector_fields, knn_settings
from indexing.engine import Engine, EngineError
from indexing.index import partitions, templates

log = logging.getLogger(__name__)


class MigrationError(EngineError):
    """The alias is in a state a migration cannot safely handle."""


def articles_alias(prefix: str) -> str:
    return f"{prefix}articles"


def versions_index(prefix: str) -> str:
    return f"{prefix}article-versions"


def runs_index(prefix: str) -> str:
    """Per-run, per-source pipeline figures (``indexing/health``)."""
    return f"{prefix}runs"


def changes_index(prefix: str) -> str:
    """Change records: edits and takedowns (``indexing/changes``)."""
    return f"{prefix}changes"


def versioned_index(version: int, prefix: str) -> str:
    return f"{articles_alias(prefix)}-v{version}"


def install_templates(engine: Engine, prefix: str) -> None:
    for name, body in templates.component_templates(prefix, knn=knn_settings(engine)).items():
        engine.put_component_template(name, body)
    for name, body in templates.index_templates(prefix).items():
        engine.put_index_template(name, body)


def _version_of(index: str) -> int | None:
    m = re.search(r"-v(\d+)(?:-\d{4}\.\d{2})?$", index)
    return int(m.group(1)) if m else None


def current_index(engine: Engine, prefix: str) -> str | None:
    """The concrete index behind the articles alias (None when the alias does not exist); of
    month indices (partitions.py), the newest month's."""
    alias = articles_alias(prefix)
    indices = sorted(engine.get_alias(alias), key=lambda i: (_version_of(i) or 0, i))
    if len(indices) > 1 and not all(partitions.parse_partition(alias, i) for i in indices):
        log.warning("alias %s points at several indices %s; using the newest", articles_alias(prefix), indices)
    return indices[-1] if indices else None


def setup_indices(engine: Engine, prefix: str, *, partition: str = partitions.PARTITION_NONE) -> str:
    """Templates, ``{prefix}articles-v{N}`` (or, with ``partition="monthly"``, this month's
    ``{prefix}articles-v{N}-{YYYY.MM}``) behind ``{prefix}articles`` and the versions index
    (``partition``: ``pipeline.index_partition``).

    Idempotent. Returns the (newest) concrete index the alias points at. An alias on an older
    mapping version or another layout is left alone (with a warning): ``migrate()`` moves it.
    """
    monthly = partition == partitions.PARTITION_MONTHLY
    install_templates(engine, prefix)
    alias = articles_alias(prefix)
    for extra in (versions_index(prefix), runs_index(prefix), changes_index(prefix)):
        if engine.create_index(extra):
            log.info("created %s", extra)
    add_new_fields(engine, runs_index(prefix), templates.runs_mappings())  # new counters of older runs indices
    add_new_fields(engine, versions_index(prefix), templates.version_mappings())
    current = current_index(engine, prefix)
    if current is None:
        if engine.index_exists(alias):
            raise MigrationError(f"{alias} exists as a concrete index, not an alias; rename it "
                                 "or reindex it into a versioned index first")
        if monthly:
            return partitions.ensure_month(engine, alias, templates.MAPPING_VERSION, partitions.month_of(None))
        target = versioned_index(templates.MAPPING_VERSION, prefix)
        if engine.create_index(target, {"aliases": {alias: {"is_write_index": True}}}):
            log.info("created %s behind alias %s", target, alias)
        else:  # the index exists (e.g. an interrupted setup) but the alias does not
            engine.update_aliases([{"add": {"index": target, "alias": alias, "is_write_index": True}}])
        return target
    if monthly != (partitions.parse_partition(alias, current) is not None):
        log.warning("%s is laid out as %s, settings ask for %s: run `warwatch es migrate`", alias,
                    "months" if not monthly else "one index", "months" if monthly else "one index")
    version = _version_of(current) or 0
    if version < templates.MAPPING_VERSION:
        log.warning("%s is on mapping v%s, the code expects v%s: run `warwatch es migrate`",
                    current, version, templates.MAPPING_VERSION)
    else:
        for index in sorted(engine.get_alias(alias)):
            if _version_of(index) == version:
                add_new_fields(engine, index)
    return current


def add_new_fields(engine: Engine, index: str, mappings: dict[str, Any] | None = None) -> list[str]:
    """Add fields the code maps (``mappings``; default the articles' mappings) but ``index``
    lacks (additive changes need no new version).

    Changes to existing fields cannot be applied in place: those need ``migrate()``. Documents
    indexed before get the new fields when they are next written. Returns the fields added.
    """
    live = engine.get_mapping(index).get(index, {}).get("mappings", {}).get("properties", {})
    wanted = (mappings or templates.article_mappings())["properties"]
    missing = {k: v for k, v in wanted.items() if k not in live}
    if not missing:
        return []
    try:
        engine.put_mapping(index, {"properties": missing})
    except EngineError as exc:
        log.warning("cannot add fields %s to %s (%s): run `warwatch es migrate` with a new mapping version",
                    sorted(missing), index, exc)
        return []
    log.info("added fields %s to %s", sorted(missing), index)
    return sorted(missing)


def migrate(engine: Engine, prefix: str, *, target_version: int | None = None,
            delete_old: bool = False, partition: str = partitions.PARTITION_NONE) -> str:
    """Move the alias to ``{prefix}articles-v{target_version}`` (default: the code's version), or
    with ``partition="monthly"`` to its month indices (monthly.py; returns the newest).

    Reindexes what the alias points at into the new index, then copies what was indexed during the
    reindex, then flips the alias atomically. Idempotent: when the alias already points at the
    target, nothing happens. Returns the index the alias points at afterwards.
    """
    target_version = target_version or templates.MAPPING_VERSION
    install_templates(engine, prefix)
    alias = articles_alias(prefix)
    if engine.index_exists(versions_index(prefix)):  # the versions index follows (first_seen)
        add_new_fields(engine, versions_index(prefix), templates.version_mappings())
    if partition == partitions.PARTITION_MONTHLY:
        from indexing.index.monthly import migrate_to_months

        return migrate_to_months(engine, alias, target_version, delete_old=delete_old)[-1]
    current = current_index(engine, prefix)
    if current is None:
        return setup_indices(engine, prefix, partition=partitions.PARTITION_NONE)
    old = sorted(engine.get_alias(alias))
    target = versioned_index(target_version, prefix)
    if old == [target]:
        log.info("%s already on %s", alias, target)
        return target
    if (_version_of(current) or 0) > target_version:
        raise MigrationError(f"{alias} is on {current}, newer than the requested v{target_version}")
    _reindex_into(engine, alias, old, target)
    engine.update_aliases([
        *({"remove": {"index": i, "alias": alias}} for i in old if i != target),
        {"add": {"index": target, "alias": alias, "is_write_index": True}},
    ])
    log.info("alias %s moved from %s to %s", alias, old, target)
    if delete_old:
        for index in old:
            if index != target:
                engine.delete_index(index)
    return target


def _reindex_into(engine: Engine, alias: str, old: list[str], target: str) -> None:
    """Copy the indices behind the alias into ``target``, then what was written meanwhile."""
    engine.create_index(target)  # the templates apply; an existing target is refilled below
    sources = ",".join(i for i in old if i != target)
    carry_vector_fields(engine, sources, target, templates.VECTOR_FIELDS)
    # Documents written while the reindex runs go to the old index: remember when we started
    # and copy those afterwards (the catch-up pass uses indexed_at, set on every write).
    started = datetime.now(UTC) - timedelta(seconds=5)
    engine.refresh(sources)
    result = engine.reindex(sources, target)
    _check_reindex(result, sources, target)
    engine.refresh(sources)
    catch_up = engine.reindex(sources, target, query={"range": {"indexed_at": {"gte": started.isoformat()}}})
    _check_reindex(catch_up, sources, target)
    engine.refresh(target)
    old_count, new_count = engine.count(sources), engine.count(target)
    if new_count < old_count:
        raise MigrationError(f"reindex incomplete: {sources} has {old_count} documents, {target} {new_count}; "
                             "alias not moved")


def _check_reindex(result: dict[str, object], source: str, dest: str) -> None:
    failures = result.get("failures") or []
    if failures:
        raise MigrationError(f"reindex {source} -> {dest} failed for {len(failures)} documents "  # type: ignore[arg-type]
                             f"(first: {failures[0]}); alias not moved")  # type: ignore[index]
