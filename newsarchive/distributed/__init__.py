"""Distributed crawls on a shared Redis, with scrapy-redis (docs/distributed.md).

```
newsarchive seed  --redis redis://HOST:6379/0 SEED...   # push seeds into the shared frontier
newsarchive crawl --redis redis://HOST:6379/0 -o DIR     # a worker (any number, any machine)
newsarchive index -o DIR                                 # one index of every worker's WARCs
```

What is shared, all under the key prefix ``NEWSARCHIVE_REDIS_PREFIX`` (default ``newsarchive``):

- ``<prefix>:seeds``: a list of JSON seeds, read by :class:`DistributedArticlesSpider`
  through scrapy-redis's ``RedisMixin`` (an atomic LRANGE+LTRIM per batch);
- ``<prefix>:requests``: the frontier, scrapy-redis's ``Scheduler`` with its priority queue
  (``SCHEDULER_PERSIST``: a worker that stops or dies leaves what is queued for the others);
- ``<prefix>:fingerprints:<round>``: the request fingerprints of one *round* (one ``seed``
  command and everything it leads to), :class:`RoundDupeFilter`, a scrapy-redis
  ``RFPDupeFilter`` keyed per round and expiring ``NEWSARCHIVE_REDIS_FINGERPRINT_TTL`` after
  its last use: the filter never grows without bound across scheduled runs, and a later
  round fetches updated articles again as the revisit policy says;
- ``<prefix>:state:fetches`` / ``:state:articles``: the cross-run state
  (:class:`RedisStateStore`), so every worker makes the same revisit and change decisions;
- ``<prefix>:scope:domains`` / ``:scope:seed-hosts``: the crawl scope the seeds imply;
- ``<prefix>:runs:<run_id>``: reserved worker run ids, unique across all machines.

Each worker is a run of its own: its run id, JSONL file and manifest; WARC files named by host,
pid, time and serial. Nothing a worker writes can collide with another's in a shared directory.

Compatibility with Scrapy 2.19 (scrapy-redis 0.9.1): the Scheduler and the dupefilter work
(the engine checks schedulers structurally; scrapy-redis fingerprints requests itself);
:class:`Scheduler` only drops the ``spider`` argument of its stats calls, deprecated now.
``RedisMixin.spider_idle`` measures idleness from the time its class was imported, so a
worker that crawled longer than ``MAX_IDLE_TIME_BEFORE_CLOSE`` would quit at its first idle
moment; :meth:`DistributedArticlesSpider.spider_idle` replaces it.
"""

