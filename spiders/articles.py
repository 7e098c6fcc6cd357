"""The ``articles`` spider: seed pages, then the related articles they link to.

``scrapy crawl articles -a seeds=PATH_OR_URL`` (several separated by commas or whitespace), or
``newsarchive crawl SEED...`` which passes them in NEWSARCHIVE_SEEDS. The crawl itself is
:class:`newsarchive.crawl.spider.BaseArticlesSpider`; this module makes it a spider of the
Scrapy project (``SPIDER_MODULES``), as scrapyd and ``scrapy crawl`` find spiders.
"""

from newsarchive.crawl.spider import BaseArticlesSpider


class ArticlesSpider(BaseArticlesSpider):
    name = "articles"
