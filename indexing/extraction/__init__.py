"""Article extraction and cleaning: ``extract(html, url) -> Article``.

Built on trafilatura and the page's structured metadata, plus what news needs on top:
figures and photo credits out of the body, per-language boilerplate lines removed, block
boundaries that never glue words, dates in UTC, and a status for pages without an article.
"""

from .article import Article, extract
from .images import Image

__all__ = ["Article", "Image", "extract"]
