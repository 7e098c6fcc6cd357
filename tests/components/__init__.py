"""Component tests: each of newsarchive's Scrapy components built with Scrapy's ``get_crawler``,
one file per component, as Scrapy tests its own (the end-to-end tests run the real CLI)."""
