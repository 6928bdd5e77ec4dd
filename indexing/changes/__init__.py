"""Edits and takedowns: what outlets change and delete after publication.

``diff`` (two versions of an article -> named changes: headline, text added/removed/reworded,
numbers, quote, byline, date, correction), ``takedown`` (a revisit response -> removed,
redirected, soft_404, walled), ``records``/``store`` (the change records in ``{prefix}changes``).
Import from the submodules.
"""
