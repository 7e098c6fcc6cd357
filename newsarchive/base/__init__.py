"""Foundations every layer may use: URLs, media types, digests, request.meta keys, exit codes."""
