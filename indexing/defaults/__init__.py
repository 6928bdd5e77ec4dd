"""The configuration shipped with warwatch: ``config/`` (settings, sources, watches, topics,
entities, boilerplate, Kibana objects) as package data of this package.

In a checkout ``config`` here is a link to the repository's ``config/`` directory, so there is one
copy of every file; a built wheel holds the files themselves. Found through
:func:`indexing.settings.default_config_dir` when neither ``WARWATCH_CONFIG_DIR`` nor a
``./config`` directory says otherwise.
"""
