"""Run every department server on loopback: in the current loop, in a thread, or foreground."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from aiohttp import web

from . import (
    e_license,
    education,
    hospital,
    housing_registry,
    hrss,
    identity_check,
    mini_program,
    provident_fund,
    sms,
    traffic_police,
    transit,
)

DEPARTMENTS: tuple[str, ...] = (
    "hospital",
    "hrss",
    "provident_fund",
    "traffic_police",
    "education",
    "identity_check",
    "e_license",
    "transit",
    "housing_registry",
    "sms",
    "mini_program",
)
DEFAULT_PORTS: dict[str, int] = {name: 18101 + i for i, name in enumerate(DEPARTMENTS)}
FACTORIES: dict[str, Callable[[], web.Application]] = {
    "hospital": hospital.create_app,
    "hrss": hrss.create_app,
    "provident_fund": provident_fund.create_app,
    "traffic_police": traffic_police.create_app,
    "education": education.create_app,
    "identity_check": identity_check.create_app,
    "e_license": e_license.create_app,
    "transit": transit.create_app,
    "housing_registry": housing_registry.create_app,
    "sms": sms.create_app,
    "mini_program": mini_program.create_app,
}
# In-flight requests get this long on stop; a "hang" fault would otherwise hold
# shutdown for aiohttp's default 60 s.
SHUTDOWN_TIMEOUT = 0.25


class AsyncSandbox:
    """Servers running in the current event loop; ``urls`` maps department -> base URL."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.apps: dict[str, web.Application] = {}
        self._runners: list[web.AppRunner] = []

    async def _add(self, department: str, host: str, port: int) -> None:
        app = FACTORIES[department]()
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        self._runners.append(runner)
        sock = _listen(host, port)
        await web.SockSite(runner, sock).start()
        bound = sock.getsockname()[1]
        self.urls[department] = (
            f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
        )
        self.apps[department] = app

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        await asyncio.gather(*(r.cleanup() for r in runners))

    async def __aenter__(self) -> AsyncSandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Lets `hefeitong serve` restart on the fixed dev ports while old
        # connections sit in TIME_WAIT; it never allows two live listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def start_sandbox(
    ports: Mapping[str, int] | None = None, host: str = "127.0.0.1"
) -> AsyncSandbox:
    """Start department servers in the running loop and return once all listen.

    ``ports`` names the departments to start (None: all, on ``DEFAULT_PORTS``);
    port 0 picks a free ephemeral port.
    """
    chosen = dict(DEFAULT_PORTS if ports is None else ports)
    unknown = sorted(set(chosen) - set(DEPARTMENTS))
    if unknown:
        raise ValueError(f"unknown sandbox departments: {', '.join(unknown)}")
    sandbox = AsyncSandbox()
    try:
        for department in DEPARTMENTS:
            if department in chosen:
                await sandbox._add(department, host, chosen[department])
    except BaseException:
        await sandbox.stop()
        raise
    return sandbox


class SandboxHandle:
    """Servers running on their own event loop in a daemon thread."""

    def __init__(
        self, sandbox: AsyncSandbox, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.urls: dict[str, str] = dict(sandbox.urls)
        self._sandbox, self._loop, self._thread = sandbox, loop, thread
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        asyncio.run_coroutine_threadsafe(self._sandbox.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox_thread(
    ports: Mapping[str, int] | None = None, host: str = "127.0.0.1"
) -> SandboxHandle:
    """Start the servers on a loop in a daemon thread; returns once all are listening.

    ``ports=None`` starts every department on an ephemeral port.
    """
    chosen = dict.fromkeys(DEPARTMENTS, 0) if ports is None else dict(ports)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    outcome: list[AsyncSandbox | BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome.append(loop.run_until_complete(start_sandbox(chosen, host)))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)
        ready.set()
        if isinstance(outcome[0], AsyncSandbox):
            loop.run_forever()
        _close_loop(loop)

    thread = threading.Thread(target=run, name="hefeitong-sandbox", daemon=True)
    thread.start()
    ready.wait()
    result = outcome[0]
    if isinstance(result, BaseException):
        thread.join()
        raise result
    return SandboxHandle(result, loop, thread)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


async def _exit_when_orphaned(done: asyncio.Event) -> None:
    parent = os.getppid()
    # Polled: "my parent died" has no portable event (prctl's death signal is Linux-only).
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(1)
    done.set()


def run_sandbox_forever(
    ports: Mapping[str, int] | None = None,
    host: str = "127.0.0.1",
    *,
    exit_with_parent: bool = False,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (the ``hefeitong sandbox`` command).

    ``exit_with_parent``: also stop when the process that started us is gone, so a
    server killed without cleaning up does not leave the departments holding their ports.
    """

    async def main() -> None:
        sandbox = await start_sandbox(ports, host)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        background = [asyncio.create_task(_exit_when_orphaned(done))] if exit_with_parent else []
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not the main thread, or Windows: Ctrl-C then arrives as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, done.set)
        print("合肥通沙箱部门系统已启动（Ctrl-C 停止）：", flush=True)
        for department, url in sandbox.urls.items():
            print(f"  {department:<18} {url}", flush=True)
        try:
            await done.wait()
        finally:
            for task in background:
                task.cancel()
            await sandbox.stop()
            print("沙箱已停止。", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
