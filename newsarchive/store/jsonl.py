"""The JSONL output (docs/jsonl.md): its schema version and the metadata fields of a line."""

JSONL_SCHEMA = 1
METADATA_FIELDS = (
    "title",
    "author",
    "published",
    "language",
    "sitename",
    "description",
    "categories",
    "tags",
    "canonical_url",
)
