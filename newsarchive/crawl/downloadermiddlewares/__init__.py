"""Downloader middlewares of newsarchive, one per module."""
