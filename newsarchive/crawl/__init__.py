"""The Scrapy side of a crawl: spider base, seeds, feeds, middlewares, pipelines, extensions."""
