"""Item pipelines: the archive (WARC + manifest) first, then the seen-store."""
