"""``newsarchive replay -o DIR``: the archive app and the replay origin on two ports of one
uvicorn server (newsarchive.replay.server)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.replay.isolation import default_replay_host
from newsarchive.replay.server import (
    PortDispatcher,
    bind,
    canonical_app_host,
    check_replay_host,
    is_loopback,
    open_site,
)


def run(args: argparse.Namespace) -> int:
    root: Path = args.output
    if not (root / "index").is_dir() and not (root / "articles").is_dir():
        print(f"newsarchive replay: {root} holds no archive (no index/ or articles/); "
              "crawl first", file=sys.stderr)
        return EXIT_FATAL
    app_host = canonical_app_host(args.host)
    replay_host = getattr(args, "replay_host", None) or default_replay_host()
    problem = check_replay_host(replay_host, app_host)
    if problem:
        print(f"newsarchive replay: {problem}", file=sys.stderr)
        return EXIT_FATAL
    if not is_loopback(args.host) and replay_host.lower().endswith(".localhost"):
        print(f"newsarchive replay: other machines resolve {replay_host} to themselves: give "
              "--replay-host a name that leads them here", file=sys.stderr)
    replay_port = getattr(args, "replay_port", None)
    if replay_port is None:
        replay_port = 0 if args.port == 0 else args.port + 1
    try:
        app_socket = bind(args.host, args.port)
        replay_socket = bind(args.host, replay_port)
    except OSError as exc:
        print(f"newsarchive replay: cannot listen on {args.host}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_FATAL
    app_port, replay_port = app_socket.getsockname()[1], replay_socket.getsockname()[1]
    site = open_site(root)
    dispatcher = PortDispatcher(
        site, app_port, replay_port, is_loopback(args.host), replay_host, app_host
    )
    config = uvicorn.Config(
        dispatcher, lifespan="off", log_level="warning", access_log=False,
        server_header=False, proxy_headers=False,
    )
    print(
        f"newsarchive replay: {site.catalogue.count()} pages, {site.archive.index.count()} "
        f"index lines. Archive at {dispatcher.origins.app}/ (replayed pages are served from "
        f"{dispatcher.origins.replay}/). Ctrl-C to stop.",
        file=sys.stderr, flush=True,
    )
    uvicorn.Server(config).run(sockets=[app_socket, replay_socket])
    site.catalogue.close()
    return EXIT_OK
