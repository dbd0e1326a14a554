"""Starting and stopping the sandbox: in the loop, in a thread, and in the foreground."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from integrations.sandbox import (
    DEFAULT_PORTS,
    DEPARTMENTS,
    SANDBOX_CREDENTIALS,
    start_sandbox,
    start_sandbox_thread,
)


def test_fixed_dev_ports_and_credentials_cover_every_department() -> None:
    assert DEFAULT_PORTS == {
        "hospital": 18101,
        "hrss": 18102,
        "provident_fund": 18103,
        "traffic_police": 18104,
        "education": 18105,
        "identity_check": 18106,
        "e_license": 18107,
        "transit": 18108,
        "housing_registry": 18109,
        "sms": 18110,
        "mini_program": 18111,
    }
    assert set(SANDBOX_CREDENTIALS) == set(DEPARTMENTS)


def _health(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/__sandbox/health", timeout=5) as resp:
        return dict(json.load(resp))


def test_thread_sandbox_serves_every_department_until_stopped() -> None:
    with start_sandbox_thread() as handle:
        assert list(handle.urls) == list(DEPARTMENTS)
        for department, url in handle.urls.items():
            assert url.startswith("http://127.0.0.1:")
            assert _health(url) == {"department": department, "ok": True}
    with pytest.raises(urllib.error.URLError):
        _health(handle.urls["hospital"])
    handle.stop()  # a second stop is harmless


async def test_start_only_some_departments() -> None:
    sandbox = await start_sandbox({"sms": 0, "transit": 0})
    try:
        assert set(sandbox.urls) == {"sms", "transit"}
    finally:
        await sandbox.stop()
    with pytest.raises(ValueError, match="police"):
        await start_sandbox({"police": 0})


def test_foreground_runner_prints_urls_and_stops_on_sigterm() -> None:
    code = "from integrations.sandbox import run_sandbox_forever; run_sandbox_forever({'sms': 0})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert "沙箱" in proc.stdout.readline()
        department, url = proc.stdout.readline().split()
        assert department == "sms"
        assert _health(url)["department"] == "sms"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
