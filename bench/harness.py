"""Process plumbing for the gateway benchmarks: nginx upstream, uvicorn servers, wrk."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(count: int, start: int = 21000) -> int:
    """First port of ``count`` consecutive free ports below the kernel's ephemeral range
    (where an outgoing connection could take one between the check and the bind)."""
    for base in range(start, 32000 - count, count):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def require(tool: str) -> str:
    sbin = Path("/usr/sbin") / tool
    path = shutil.which(tool) or (str(sbin) if sbin.exists() else None)
    if not path:
        sys.exit(f"{tool} is needed for this benchmark: apt-get install -y wrk nginx-light")
    return path


@contextmanager
def nginx_upstream(routes: dict[str, dict[str, object]]) -> Iterator[int]:
    """nginx answering each path with a fixed JSON body: the fast upstream of DESIGN.md."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    locations = "\n".join(
        f"location = {path} {{ default_type application/json; "
        f"return 200 '{json.dumps(body, ensure_ascii=False)}'; }}"
        for path, body in routes.items()
    )
    (workdir / "nginx.conf").write_text(
        f"""worker_processes 1; daemon off; pid {workdir}/nginx.pid;
error_log {workdir}/error.log; events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {workdir}; keepalive_requests 100000;
server {{ listen 127.0.0.1:{port}; {locations} }} }}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen([require("nginx"), "-c", str(workdir / "nginx.conf")])
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def uvicorn_server(app: str, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--workers", "1",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body, ensure_ascii=False)}")
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        output = subprocess.run(
            [require("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
             "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(rps, p50, p99, int(errors.group(1)) if errors else 0)
