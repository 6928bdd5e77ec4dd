"""warwatch's library: extraction, enrichment, indexing, search and alerts.

It imports neither Scrapy nor Airflow, so every stage can be called and tested directly.
"""

__version__ = "0.1.0"
