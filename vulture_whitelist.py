# ruff: noqa: B018
"""Names vulture (``make lint``, min confidence 80) reports as unused that a framework or protocol
requires: each is a parameter whose name or place a caller fixes, not dead code."""

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

_.transportSemantics  # Twisted IHostnameResolver.resolveHostName's signature (crawlers/resolver.py)
_.tb  # __exit__(exc_type, exc, tb): the context-manager protocol (archive, dedup, crawlers/state)
_.dotenv_settings  # pydantic-settings' settings_customise_sources signature (indexing/settings.py)
_.file_secret_settings  # idem
_.__context  # pydantic's model_post_init(__context) (indexing/sources.py)
_.mtime_ns  # part of an lru_cache key: a file's version (yamlconfig.cached_by_mtime, warwatch/dagconfig)
_.newurl  # urllib's HTTPRedirectHandler.redirect_request signature (warwatch/kibana.py)
