"""newsarchive: archive news articles as byte-faithful WARC plus clean text."""

__version__ = "0.1.0"
