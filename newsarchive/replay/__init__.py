"""``newsarchive replay``: browse, search and replay the archive in a browser (docs/replay.md)."""
