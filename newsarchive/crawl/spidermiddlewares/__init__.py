"""Spider middlewares of newsarchive, one per module."""
