"""The ``request.meta`` keys newsarchive's components pass information through, all in one place.

Keys without a leading underscore may also be read by users' own middlewares and pipelines.
"""

# The spider: how each request was found and where it came from.
VIA_META_KEY = "newsarchive_via"  # seed | related-title | related-link | feed | sitemap | requisite
SEED_META_KEY = "newsarchive_seed"  # the seed URL this request descends from
REFERRER_META_KEY = "newsarchive_referrer"  # the page that linked here
TITLES_META_KEY = "newsarchive_related_titles"  # the seed's `Related article:` titles
# A sitemap reached from a sitemap index or robots.txt: archived, read, no JSONL line of its own.
DISCOVERY_META_KEY = "newsarchive_discovery"

# Capture: the download handler leaves the raw Exchange for the WARC capture middleware, which
# leaves the WARC pointers of the capture for the spider and the pipelines.
EXCHANGE_META_KEY = "_newsarchive_exchange"
CAPTURE_META_KEY = "newsarchive_capture"
# Scrapy's own key, read by the download handler: the proxy URL of this request (credentials
# allowed), None to go direct (capture/proxies.py, docs/proxies.md).
PROXY_META_KEY = "proxy"

# Page requisites: 1 when named by a page, 2 when named by its CSS; and the page's requisite URLs
# when an extraction worker already found them.
REQUISITE_META_KEY = "newsarchive_requisite"
REQUISITE_URLS_META_KEY = "newsarchive_requisite_urls"

# Why a Retry-After was not waited for (read into the page's error).
RETRY_AFTER_META_KEY = "newsarchive_retry_after"

# Distributed crawls: the seed round a request descends from, and its entry in its worker's
# in-flight hash.
ROUND_META_KEY = "newsarchive_round"
LEDGER_META_KEY = "newsarchive_ledger"
