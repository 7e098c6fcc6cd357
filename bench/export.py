"""WACZ export of a bench archive: ``python -m bench.export [--size N] [--repeat R]``.

Crawls the generated site of N articles (bench/site.py, cached as for ``make bench``) with the
full pipeline, then times ``newsarchive export --wacz`` on that archive R times for each index
format (wall, CPU, peak memory of the process) and reports the WARC and WACZ sizes. The archive
is kept in ``--work`` (default a temporary directory) for repeated runs. With ``--rerun``, the
site is crawled a second time (its unchanged pages become revisits) and ``export --run`` of that
run alone is timed too: it copies the first run's responses its revisits refer to.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import zipfile
from pathlib import Path

from bench.measure import run
from bench.runs import NEWSARCHIVE, Context, _env, crawl_command
from bench.serve import SiteServer
from bench.site import cached_site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--size", type=int, default=1000, help="articles (default 1000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "newsarchive-bench"
    )
    parser.add_argument("--work", type=Path, help="keeps the archive (default: a temp dir)")
    parser.add_argument("--rerun", action="store_true",
                        help="also crawl again and time the export of that run alone")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    archive = work / f"archive-{args.size}"
    if not (archive / "index" / "index.cdxj").exists():
        shutil.rmtree(archive, ignore_errors=True)
        _crawl(args, work, archive)
    if args.rerun and len(_run_ids(archive)) < 2:
        _crawl(args, work, archive)
    warc_bytes = sum(path.stat().st_size for path in (archive / "warc").glob("*.warc.gz"))
    for index in ("cdxj", "zipnum"):
        print(json.dumps(_measure(archive, work, index, args.repeat, warc_bytes), indent=2))
    if args.rerun:
        run_id = _run_ids(archive)[-1]
        print(json.dumps(_measure(archive, work, "cdxj", args.repeat, warc_bytes, run_id),
                         indent=2))


def _crawl(args: argparse.Namespace, work: Path, archive: Path) -> None:
    """A crawl of the site, served where the archive's first crawl found it (the same URLs)."""
    site_root, _ = cached_site(args.cache, args.size)
    port_file = archive.parent / f"{archive.name}.port"
    port = int(port_file.read_text()) if archive.exists() and port_file.exists() else 0
    with SiteServer(site_root, port=port) as server:
        port_file.write_text(str(server.port))
        ctx = Context(site_root, server.base_url, work, 1800.0, 2)
        command = [*crawl_command(ctx, archive, extract=True), "--revisit-after", "0"]
        crawled = run("crawl", command, cwd=work,
                      env=_env(), timeout=1800.0, log=work / "crawl.log")
    print(f"crawl: {crawled.wall:.1f} s, exit {crawled.returncode}")


def _run_ids(archive: Path) -> list[str]:
    return sorted(path.stem for path in (archive / "runs").glob("*.json"))


def _measure(
    archive: Path, work: Path, index: str, repeat: int, warc_bytes: int, run_id: str = ""
) -> dict:
    target = work / f"archive-{index}{'-run' if run_id else ''}.wacz"
    command = [NEWSARCHIVE, "export", "-o", str(archive), "--wacz", str(target), "--index", index]
    if run_id:
        command += ["--run", run_id]
    measured = [
        run("export", command, cwd=work, env=_env(), log=work / "export.log")
        for _ in range(repeat)
    ]
    with zipfile.ZipFile(target) as package:
        pages = sum(1 for _ in package.open("pages/pages.jsonl")) - 1
        entries = {info.filename: info.compress_size for info in package.infolist()}
    index_bytes = sum(size for name, size in entries.items() if name.startswith("indexes/"))
    return {
        "index": index,
        "run": run_id or "all",
        "copied_originals_kib": round(entries.get("archive/revisited-originals.warc.gz", 0) / 1024,
                                      1),
        "pages": pages,
        "warc_mib": round(warc_bytes / 2**20, 1),
        "wacz_mib": round(target.stat().st_size / 2**20, 1),
        "index_kib": round(index_bytes / 1024, 1),
        "pages_kib": round(entries["pages/pages.jsonl"] / 1024, 1),
        "export_s_median": round(statistics.median(m.wall for m in measured), 2),
        "export_cpu_s_median": round(statistics.median(m.cpu for m in measured), 2),
        "export_peak_rss_mib": round(max(m.peak_rss for m in measured) / 2**20, 1),
        "exit_codes": sorted({m.returncode for m in measured}),
    }


if __name__ == "__main__":
    main()
