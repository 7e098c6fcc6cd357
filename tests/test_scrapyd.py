"""Scheduling the ecosystem's way: a real scrapyd on 127.0.0.1, the project deployed to it with
scrapyd-deploy through scrapy.cfg's [deploy] section from a fresh clone, a job scheduled through
schedule.json.

The job must write the same archive layout as ``newsarchive crawl`` does.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_newsarchive

pytest.importorskip("scrapyd")
pytest.importorskip("scrapyd_client")

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, endpoint: str, data: dict | None = None) -> dict:
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    with urllib.request.urlopen(f"{base}/{endpoint}", data=body, timeout=30) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    home = tmp_path_factory.mktemp("scrapyd")
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        "poll_interval = 0.2\n"
        "max_proc = 1\n"
        f"eggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\n"
        f"dbs_dir = {home / 'dbs'}\n"
        "items_dir =\n"
    )
    log = open(home / "scrapyd.out", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _daemon_ok(base), 30, "scrapyd to listen")
        yield {"base": base, "port": port, "home": home}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _daemon_ok(base: str) -> bool:
    try:
        return api(base, "daemonstatus.json").get("status") == "ok"
    except OSError:
        return False


def deploy(scrapyd: dict, work: Path) -> subprocess.CompletedProcess:
    """scrapyd-deploy as a user runs it (docs/scheduling.md): in a fresh ``git clone`` of the
    repository, with this environment's scrapyd-deploy (it writes setup.py and build files there).

    The clone gets the working tree's uncommitted changes too, so that this checks the tree as
    it would be committed; what git ignores (.venv, output/, egg-info) stays out, as in a clone.
    """
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    project = work / "project"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(project)], check=True, timeout=60)
    _copy_working_tree(git, project)
    config = (project / "scrapy.cfg").read_text()
    assert "[deploy]" in config
    # the [deploy] target as shipped, pointed at this test's port
    (project / "scrapy.cfg").write_text(
        config + f"\n[deploy:test]\nurl = http://127.0.0.1:{scrapyd['port']}/\n"
    )
    return subprocess.run(
        [str(BIN / "scrapyd-deploy"), "test", "--version", "1"],
        cwd=project, capture_output=True, text=True, timeout=180,
    )


def _copy_working_tree(git: str, clone: Path) -> None:
    """Make `clone` hold the files of ROOT's working tree that git tracks or would add."""

    def listed(where: Path) -> set[str]:
        names = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=where, capture_output=True, check=True, timeout=60,
        ).stdout.decode()
        return {name for name in names.split("\0") if name}

    present = {name for name in listed(ROOT) if (ROOT / name).is_file()}
    for name in listed(clone) - present:
        (clone / name).unlink(missing_ok=True)
    for name in present:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)


@pytest.fixture(scope="module")
def job(scrapyd, site, tmp_path_factory):
    work = tmp_path_factory.mktemp("scrapyd-job")
    deployed = deploy(scrapyd, work)
    if deployed.returncode != 0:
        pytest.fail(f"scrapyd-deploy failed:\n{deployed.stdout}\n{deployed.stderr}")
    output = work / "out"
    seed = f"{site.base_url}/2024/05/01/harbour-expansion-approved-a10001.html"
    scheduled = api(
        scrapyd["base"],
        "schedule.json",
        {
            "project": "newsarchive",
            "spider": "articles",
            "seeds": seed,
            "setting": [f"NEWSARCHIVE_OUTPUT_DIR={output}", "NEWSARCHIVE_EXTRACT_WORKERS=1"],
        },
    )
    if scheduled.get("status") != "ok":
        pytest.fail(f"schedule.json refused the job: {scheduled}")
    job_id = scheduled.get("jobid")

    def finished():
        jobs = api(scrapyd["base"], "listjobs.json?project=newsarchive")
        return next((j for j in jobs.get("finished", []) if j["id"] == job_id), None)

    done = wait_until(finished, 180, "the scrapyd job to finish")
    cli = run_newsarchive("crawl", seed, "-o", str(work / "cli-out"))
    return {
        "deployed": deployed,
        "scheduled": scheduled,
        "done": done,
        "output": output,
        "cli_output": work / "cli-out",
        "cli": cli,
        "log": _job_log(scrapyd["home"], job_id),
    }


def _job_log(home: Path, job_id: str) -> str:
    logs = list((home / "logs").rglob(f"{job_id}.log"))
    return logs[0].read_text() if logs else ""


def layout(root: Path) -> dict[str, list[str]]:
    return {
        "warc": sorted(p.suffix for p in (root / "warc").iterdir()),
        "articles": sorted(p.suffix for p in (root / "articles").iterdir()),
        "index": sorted(p.name for p in (root / "index").iterdir()),
        "runs": sorted(p.suffix for p in (root / "runs").iterdir()),
        "state": sorted(p.name for p in (root / "state").iterdir() if p.suffix == ".sqlite"),
    }


def test_project_deploys_with_scrapy_cfg_target(job):
    deployed = job["deployed"]
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["status"] == "ok", deployed.stdout
    assert not (ROOT / "setup.py").exists()  # the checkout itself is left alone


def test_job_scheduled_and_finished(job):
    assert job["scheduled"]["status"] == "ok"
    assert job["done"]["spider"] == "articles"
    assert "Spider closed (finished)" in job["log"]
    assert "newsarchive run" in job["log"]  # the archive's own start line


def test_job_writes_the_same_archive_layout(job):
    output, cli_output = job["output"], job["cli_output"]
    assert job["cli"].returncode == 0, job["cli"].stderr
    assert layout(output) == layout(cli_output)
    manifest = json.loads(next((output / "runs").glob("*.json")).read_text())
    assert manifest["finish_reason"] == "finished"
    assert manifest["stats"]["seeds_archived"] == 1
    run_id = manifest["run_id"]
    assert (output / "articles" / f"{run_id}.jsonl").exists()
    jsonl = output / "articles" / f"{run_id}.jsonl"
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    cli_lines = [
        json.loads(x)
        for path in (cli_output / "articles").glob("*.jsonl")
        for x in path.read_text().splitlines()
    ]
    assert {x["url"] for x in lines} == {x["url"] for x in cli_lines}
    assert all(x["change"] == "new" for x in lines)
    verify = run_newsarchive("verify", "-o", str(output))
    assert verify.returncode == 0, verify.stdout + verify.stderr

