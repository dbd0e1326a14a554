"""Helpers shared by the sandbox tests: credentials, IDs with a property, SOAP, signing."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from integrations.sandbox import SANDBOX_CREDENTIALS, data, provident_fund_sign

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def api_key(department: str) -> dict[str, str]:
    return {"X-Api-Key": SANDBOX_CREDENTIALS[department]["api_key"]}


def find_id(predicate: Callable[[str], bool], tag: str = "") -> str:
    """The first generated ID number that has the property a test needs."""
    for n in range(5000):
        id_no = data.make_id_no(f"{tag}{n}")
        if predicate(id_no):
            return id_no
    raise AssertionError("no generated ID number has the property")


def soap(operation: str, params: dict[str, str], app_key: str = "sandbox-hrss-key") -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in params.items())
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Header><AppKey>{app_key}</AppKey>'
        f"</soap:Header><soap:Body><{operation}>{inner}</{operation}></soap:Body></soap:Envelope>"
    )


_nonce_counter = itertools.count()


def signed(params: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Add app_id/timestamp/nonce/sign; overrides replace common fields before signing."""
    common: dict[str, Any] = {
        "app_id": "sandbox-gjj",
        "timestamp": str(int(time.time())),
        "nonce": f"test-nonce-{next(_nonce_counter):08d}",
    }
    full = {**params, **common, **overrides}
    full["sign"] = provident_fund_sign(full, "sandbox-gjj-secret")
    return full
