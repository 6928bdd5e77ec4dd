"""The articles index: templates, set-up and migration, documents, bulk indexing, versions, pending queue."""
