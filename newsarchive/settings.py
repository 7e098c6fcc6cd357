"""Scrapy settings of the newsarchive project, and every NEWSARCHIVE_* default in one place.

`scrapy crawl articles` (through scrapy.cfg) and `newsarchive crawl` both start from this module;
the CLI only overrides what its options name.
"""

from newsarchive import __version__

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- newsarchive's own settings (documented defaults) ---------------------------------------
NEWSARCHIVE_OUTPUT_DIR = "output"  # archive root: warc/ articles/ index/ runs/ state/
NEWSARCHIVE_WARC_MAX_SIZE = 1_000_000_000  # rotate WARC files at this many bytes
NEWSARCHIVE_EXTRACT = True  # run trafilatura on HTML responses
NEWSARCHIVE_EXTRACT_WORKERS = 0  # extraction processes; 0 = one per CPU core
NEWSARCHIVE_EXTRACT_TIMEOUT = 30.0  # seconds per page before extraction is abandoned
# find each HTML page's links and requisites in the extraction workers, in the tree they parse
# anyway (also with --no-extract): the crawl process never parses a page; False: parse there
NEWSARCHIVE_LINKS_IN_WORKERS = True
NEWSARCHIVE_JSONL_HTML = False  # add the decoded raw page as "html" to each JSONL line
NEWSARCHIVE_DEPTH = 1  # 0 = seeds only, 1 = seeds and the articles they link to
NEWSARCHIVE_ALLOWED_DOMAINS: list[str] = []  # added to the seeds' registered domains
NEWSARCHIVE_MAX_PAGES = 0  # stop after this many candidate articles (0 = no limit)
NEWSARCHIVE_CONTACT_URL = "https://github.com/newsarchive/newsarchive"
NEWSARCHIVE_OPERATOR = ""  # who runs the crawl, recorded in every warcinfo record
NEWSARCHIVE_PROGRESS = None  # live progress on stderr; None = only when stderr is a terminal
NEWSARCHIVE_PROGRESS_INTERVAL = 2.0  # seconds between progress lines on a terminal
NEWSARCHIVE_PROGRESS_LOG_INTERVAL = 30.0  # seconds between progress lines in a log (--progress)
NEWSARCHIVE_TRACEBACKS = False  # full tracebacks in the log (crawl -v); else one line per failure
NEWSARCHIVE_QUIET = False  # crawl -q: summary only when the run did not end cleanly
NEWSARCHIVE_RUN_ID = None  # set by the CLI; generated when missing
# None: block private addresses unless a seed is private (capture/addresses.py)
NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES = None
# crawl --proxy: http://[USER:PASSWORD@]HOST:PORT for http and https, in place of the
# environment's http_proxy/https_proxy (no_proxy still applies); None = the environment's
NEWSARCHIVE_PROXY = None
NEWSARCHIVE_RETRY_AFTER_MAX = 120.0  # seconds: a 429/503 asking to wait longer is not retried
# a host whose name does not resolve (or host:port refusing connections) is dead for the rest
# of the run: its other requests fail at once, unsent and not retried (docs/reliability.md)
NEWSARCHIVE_DEAD_HOSTS = True
NEWSARCHIVE_SEEDS: list[str] = []  # seed arguments (URLs or files) when not given to the spider
NEWSARCHIVE_REQUISITES = True  # also capture each page's stylesheets, images, fonts, scripts
NEWSARCHIVE_REQUISITES_MAX = 60  # requisites captured per page (in document order)
NEWSARCHIVE_REQUISITES_MAXSIZE = 8 * 1024 * 1024  # body cap per requisite (WARC-Truncated)
NEWSARCHIVE_STATE = "sqlite"  # cross-run state store (docs/scheduling.md); "none" disables it
# the class of each NEWSARCHIVE_STATE kind, built by its from_config(config, state_dir)
NEWSARCHIVE_STATE_STORES = {
    "sqlite": "newsarchive.store.state.SqliteStateStore",
    "none": "newsarchive.store.state.NullStateStore",
    "redis": "newsarchive.distributed.state.RedisStateStore",
}
NEWSARCHIVE_REVISIT_AFTER = "6h"  # a known article is fetched again after this long
NEWSARCHIVE_REVISIT_MAX = "30d"  # cap of the back-off for articles that keep not changing
NEWSARCHIVE_REVISIT_BACKOFF = 2.0  # interval factor per unchanged capture after the first
NEWSARCHIVE_WAIT_LOCK = False  # wait for another run on the same output instead of exiting
NEWSARCHIVE_RESUME = False  # continue the run named by NEWSARCHIVE_RUN_ID (crawl --resume)
# distributed crawls (crawl --redis, docs/distributed.md); None = the embedded default
NEWSARCHIVE_REDIS_URL = None  # redis://HOST:6379/0: shared frontier, fingerprints and state
NEWSARCHIVE_REDIS_PREFIX = "newsarchive"  # Redis key prefix: one prefix per archive
NEWSARCHIVE_REDIS_IDLE_CLOSE = "30s"  # a worker exits once the frontier stayed empty this long
NEWSARCHIVE_REDIS_POLL = 1.0  # seconds between an idle worker's looks at the shared frontier
NEWSARCHIVE_REDIS_FINGERPRINT_TTL = "1d"  # a round's fingerprints expire this long after use
NEWSARCHIVE_REDIS_HEARTBEAT_TTL = "15s"  # a silent worker is dead after this: its requests requeued
# trafilatura's port of readability (docs/quality.md, an extraction policy: it changes texts):
# "short-texts" compares it only with own texts under 1000 characters; "always" on every page
NEWSARCHIVE_READABILITY = "short-texts"
# reaches into other libraries' internals, each made only within the versions it was verified
# with and only while its switch is on; off, the library runs as it ships (docs/compat.md)
NEWSARCHIVE_TRAFILATURA_TUNING = True  # faster XPaths, parser, one copy less: same output
NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES = True  # Scrapy's cookie-domain check: bundled suffix list
NEWSARCHIVE_REDIS_ENGINE_POLL = True  # an idle worker's engine polls every NEWSARCHIVE_REDIS_POLL
NEWSARCHIVE_REDIS_INFLIGHT_LEDGER = True  # requests in flight noted, a dead worker's requeued
NEWSARCHIVE_STOP_REQUEUE = True  # at a first Ctrl-C, requests waiting per host go back unsent
NEWSARCHIVE_RETRY_AFTER_HOLD = True  # a Retry-After holds the rest of the host's queue too

# --- Scrapy settings newsarchive relies on ---------------------------------------------------
USER_AGENT = f"newsarchive/{__version__} (+{NEWSARCHIVE_CONTACT_URL})"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
DEPTH_LIMIT = 0  # the spider applies NEWSARCHIVE_DEPTH itself
DEPTH_PRIORITY = 1  # breadth-first: seeds before what they link to
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
REDIRECT_MAX_TIMES = 10
RETRY_TIMES = 2
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False  # no listening socket unless asked
REMOTE_CONTROL_ENABLED = False  # Scrapy 2.19 would serve code execution on a local port
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
# Outputs of one callback processed at once. Scrapy starts this many asyncio tasks for every
# response (default 100, a measurable share of the crawl process's time: docs/benchmarks.md);
# a page yields one item and a few requests.
CONCURRENT_ITEMS = 8
# http_proxy, https_proxy and no_proxy are honoured, as by Scrapy; the raw-capture handler
# reads them itself (capture/proxies.py, docs/proxies.md); False: the environment's are ignored
HTTPPROXY_ENABLED = True
HTTPERROR_ALLOW_ALL = True  # failed pages still reach the spider, which records them

DOWNLOAD_HANDLERS = {
    "http": "newsarchive.capture.http_handler.RawCaptureDownloadHandler",
    "https": "newsarchive.capture.http_handler.RawCaptureDownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    # Closest to the downloader: sees every exchange as on the wire, before decompression (590),
    # redirects (600) and retries (550) change or consume it.
    "newsarchive.crawl.downloadermiddlewares.capture.WarcCaptureMiddleware": 950,
    # Scrapy's own fetches the public suffix list online on first use; this one uses the bundled
    # list (NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES)
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    # Scrapy's copies proxy credentials into request headers, which redirects and retries carry
    # into the disk queue under the output; the download handler chooses proxies itself
    # (newsarchive/capture/proxies.py), with the same rules
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "newsarchive.crawl.downloadermiddlewares.cookies.OfflineCookiesMiddleware": 700,
    # Scrapy's retries 429/503 at once; this one waits for Retry-After
    # (newsarchive/crawl/downloadermiddlewares/retryafter.py).
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # before Scrapy's offsite check (50), which lets seeds' redirects leave the scope
    "newsarchive.crawl.downloadermiddlewares.redirectscope.RedirectScopeMiddleware": 45,
    # before the offsite check too: a CDN requisite's host's robots.txt is fetched, not dropped
    "newsarchive.crawl.downloadermiddlewares.robotsscope.RobotsTxtScopeMiddleware": 40,
    "newsarchive.crawl.downloadermiddlewares.retryafter.RetryAfterMiddleware": 550,
    # closer to the downloader than retries (550): a DNS failure or refused connection is not
    # retried, and robots.txt (100) hears of it as an IgnoreRequest (no ERROR, no traceback)
    "newsarchive.crawl.downloadermiddlewares.deadhosts.DeadHostsMiddleware": 560,
    # Scrapy's gives requests waiting together for robots.txt no parser (they are let through)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "newsarchive.crawl.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
}
SPIDER_MIDDLEWARES = {
    # after the callbacks: asks for the requisites of archived HTML pages (and their CSS)
    "newsarchive.crawl.spidermiddlewares.requisites.RequisitesMiddleware": 800,
}
ITEM_PIPELINES = {
    "newsarchive.crawl.pipelines.extraction.ExtractionPipeline": 300,
    "newsarchive.crawl.pipelines.archive.ArchivePipeline": 800,
}
EXTENSIONS = {
    "newsarchive.crawl.extensions.lifecycle.RunLifecycle": 100,
    "newsarchive.crawl.extensions.progress.Progress": 200,
    "newsarchive.crawl.logformatter.OneLineLogs": 0,
}
