"""Page analysis in the extraction workers: decoding, links, requisites, metadata, boilerplate rules
and the cleaned text (trafilatura)."""
