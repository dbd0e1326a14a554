"""The API keeps the consumer contracts: each committed pact file replayed against it.

The API runs for real (uvicorn, the embedded database, the sandbox departments over HTTP),
with the production SMS back-off so "rate limited" is the real limit. A second small server on
the same event loop answers the verifier's provider-state calls (``pact_states.py``). The
Pact verifier itself blocks, so the servers run on a thread of their own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest
from pact import Verifier

from backend.settings import Settings
from integrations.sandbox import SandboxHandle
from mobile_contracts.consumer import PROVIDER, pact_file
from tests.conftest import make_settings
from tests.contracts.pact_states import STATE_PATH, ProviderStates
from tests.servers import listening, serving

# The pact library's usage report is an HTTP call to the internet; CI has none.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

CONTRACTS = Path(__file__).parents[2] / "mobile_contracts"
CONSUMERS = {
    "hefeitong-app": CONTRACTS / "app" / "pacts",
    "hefeitong-mini-program": CONTRACTS / "mini_program" / "pacts",
}
# The production back-off (Settings' default): a minute after a phone's first code.
SMS_BACKOFF = Settings.model_fields["sms_backoff_seconds"].default


@dataclass
class RunningProvider:
    api_url: str
    state_url: str


async def _serve(
    sandbox: SandboxHandle, tmp_path: Path, ready: Future[RunningProvider], stop: asyncio.Event
) -> None:
    settings = make_settings(tmp_path, None, None, sandbox, sms_backoff_seconds=SMS_BACKOFF)
    async with serving(settings) as (app, api):
        states = ProviderStates(app, api, sandbox)
        async with listening(states.asgi()) as states_url:
            ready.set_result(RunningProvider(str(api.base_url), states_url + STATE_PATH))
            try:
                await stop.wait()
            finally:
                # Never leave the shared sandbox department faulted for the tests after this.
                await states.provident_fund_up()


@pytest.fixture(scope="module")
def provider(
    sandbox: SandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProvider]:
    loop = asyncio.new_event_loop()
    ready: Future[RunningProvider] = Future()
    stop = asyncio.Event()
    tmp_path = tmp_path_factory.mktemp("pact-provider")

    def run() -> None:
        try:
            loop.run_until_complete(_serve(sandbox, tmp_path, ready, stop))
        except BaseException as exc:  # surfaced to the test instead of dying silently
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(target=run, name="pact-provider", daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_the_api_keeps_the_consumer_contract(consumer: str, provider: RunningProvider) -> None:
    contract = pact_file(CONSUMERS[consumer], consumer)
    assert contract.exists(), contract
    verifier = (
        Verifier(PROVIDER, host="127.0.0.1")
        .add_transport(url=provider.api_url)
        .add_source(contract)
        .state_handler(provider.state_url, teardown=True, body=True)
        .set_error_on_empty_pact(enabled=True)
    )
    try:
        verifier.verify()
    except RuntimeError:
        pytest.fail(f"{contract.name} is broken:\n{verifier.output(strip_ansi=True)}")
