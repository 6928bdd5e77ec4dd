"""The bundled demo news site and the small HTTP server that serves it on 127.0.0.1.

`demo.server.serve()` is used by `make demo` and by tests; the site itself is static files under
`demo/site/` (regenerated from `demo/build_site.py`).
"""
