"""Scrapy extensions of newsarchive, one per module."""
