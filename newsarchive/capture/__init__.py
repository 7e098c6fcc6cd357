"""Capture: the raw-capture download handler, the exchange it records, the WARC writer."""
