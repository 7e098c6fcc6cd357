"""Where newsarchive reaches into other projects' code: one module per library, each naming the
versions it was verified with, each reach switchable by a setting (docs/compat.md)."""
