"""Distributed crawls on a shared Redis with scrapy-redis (docs/distributed.md), one module per
role."""
