"""``newsarchive replay -o DIR``: the archive app and the replay origin on two ports of one
uvicorn server (newsarchive.replay.server)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.replay.server import PortDispatcher, bind, is_loopback, open_site


def run(args: argparse.Namespace) -> int:
    root: Path = args.output
    if not (root / "index").is_dir() and not (root / "articles").is_dir():
        print(f"newsarchive replay: {root} holds no archive (no index/ or articles/); "
              "crawl first", file=sys.stderr)
        return EXIT_FATAL
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
    dispatcher = PortDispatcher(site, app_port, replay_port, is_loopback(args.host))
    config = uvicorn.Config(
        dispatcher, lifespan="off", log_level="warning", access_log=False,
        server_header=False, proxy_headers=False,
    )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    shown = f"[{shown}]" if ":" in shown else shown
    print(
        f"newsarchive replay: {site.catalogue.count()} pages, {site.archive.index.count()} "
        f"index lines. Archive at http://{shown}:{app_port}/ (replayed pages are served from "
        f"http://{shown}:{replay_port}/). Ctrl-C to stop.",
        file=sys.stderr, flush=True,
    )
    uvicorn.Server(config).run(sockets=[app_socket, replay_socket])
    site.catalogue.close()
    return EXIT_OK
