"""``python -m vodflow.sandbox``: serves in the foreground and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sandbox.conftest import http_client
from vodflow.sandbox.__main__ import main

pytestmark = pytest.mark.timeout(60)


def _start(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "vodflow.sandbox", "--port", "0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_for_url(proc, deadline_s=20.0):
    deadline = time.monotonic() + deadline_s
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            seen.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match:
                return match.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"sandbox did not announce its URL: {seen}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly(tmp_path, signum):
    proc = _start("--state-dir", str(tmp_path / "state"), "--lumina-size", "50")
    try:
        url = _wait_for_url(proc)
        with http_client(url) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            body = http.get("/lumina/v1/titles", params={"page_size": 1000}).json()
            assert len(body["items"]) == 50
            assert http.post("/admin/publish", json={"provider": "lumina", "new": 1}).status_code == 200
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0
        assert "stopping" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "state" / "lumina.json").exists()


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "vodflow.sandbox", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--state-dir", "--lumina-size"):
        assert option in result.stdout


def test_refuses_a_bad_size():
    result = subprocess.run(
        [sys.executable, "-m", "vodflow.sandbox", "--port", "0", "--lumina-size", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "lumina size" in result.stderr


def test_serve_is_also_an_explicit_subcommand_and_the_new_sizes_are_options(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vodflow.sandbox", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for option in ("--atlas-size", "--meridian-size", "--harbor-rows", "drop-harbor", "drop-meridian"):
        assert option in result.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "vodflow.sandbox", "serve", "--port", "0", "--atlas-size", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2 and "atlas size" in refused.stderr


DROP_ARGS = ["--rows", "30", "--bom", "--fault", "duplicate_id"]


def test_drop_harbor_subcommand(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vodflow.sandbox", "drop-harbor", "--dir", str(tmp_path), *DROP_ARGS],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    written = json.loads(line)
    assert written["rows"] == 31 and written["fault"] == "duplicate_id" and written["details"]["provider_asset_id"]
    path = Path(written["path"])
    assert path.parent == tmp_path and path.read_bytes().startswith(b"\xef\xbb\xbfprovider_asset_id,")


def test_drop_commands_in_process(tmp_path, capsys):
    assert (
        main(["drop-meridian", "--dir", str(tmp_path / "m"), "--count", "3", "--versions", "2", "--fault", "xxe"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and [line["fault"] for line in lines] == ["xxe"] + [None] * 5
    assert all(Path(line["path"]).exists() for line in lines)
    assert main(["drop-harbor", "--dir", str(tmp_path / "h"), "--large-rows", "4000"]) == 0
    [large] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert large["rows"] == 4000
    assert main(["drop-harbor", "--dir", str(tmp_path / "h"), "--rows", "5", "--clean", "--no-bad-rows"]) == 0
    assert main(["drop-harbor", "--dir", str(tmp_path / "h"), "--rows", "0"]) == 2
    assert "harbor drops take" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["drop-meridian", "--dir", str(tmp_path), "--fault", "nope"])
