"""warwatch's application layer: the CLI, the pipeline that runs the stages in order, the local
search node, Kibana import and the demo.

Arrows point one way: ``warwatch`` may import ``indexing`` (the library) and start ``crawlers``
(the Scrapy project) as a process; neither of those imports ``warwatch``.
"""

__version__ = "0.1.0"
