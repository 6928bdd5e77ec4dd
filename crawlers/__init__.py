"""The warwatch Scrapy project: one config-driven news spider (see ``crawlers.run``)."""
