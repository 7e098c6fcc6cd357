"""Item pipelines of newsarchive, one per module."""
