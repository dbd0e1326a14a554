"""A provider's adapter spec: validated whole before anything is stored, secrets kept apart.

The spec is the same document as ``integrations/departments/*.yaml`` (same JSON Schema,
same compiled mappings), with two differences for specs that arrive over the API:

- no ``${VAR}`` expansion: the server's environment is not the provider's to read, so
  any variable is refused;
- the secrets (``secrets.*``, ``auth.value``, ``auth.secret``, ``auth.client_secret``)
  are write-only: the stored spec carries a marker in their place, the values are
  encrypted apart, and a new version may send the marker to keep a value unchanged.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from backend.errors import AppError
from backend.pii import PiiCipher
from integrations.spec import AdapterSpec, SpecError, StrictVariables, depth_problem, parse_spec
from integrations.ssrf import HostPolicy, check_url_resolving

REDACTED = "********"
SECRETS_FIELD = "adapter_secrets"  # binds the ciphertext to its use
_AUTH_SECRETS = ("value", "secret", "client_secret")


class SpecInvalid(AppError):
    status = 422
    code = "ADAPTER_SPEC_INVALID"
    title_zh = "适配器描述有误"
    title_en = "The adapter spec is not valid"


@dataclass(frozen=True)
class Problem:
    path: str
    rule: str
    message: str


def refuse(problems: list[Problem]) -> SpecInvalid:
    # Each entry is an item of the problem's documented ``errors`` (location, message, type),
    # and keeps the spec-relative pointer and rule that provider tooling reads.
    return SpecInvalid(
        f"{len(problems)} problem(s); nothing was stored",
        errors=[
            {
                "location": ["body", "spec", *_pointer_parts(p.path)],
                "message": p.message,
                "type": p.rule,
                "path": p.path,
                "rule": p.rule,
            }
            for p in problems
        ],
    )


def _pointer_parts(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:] if part]


def split_secrets(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The spec with every secret replaced by the marker, and the secrets by JSON pointer."""
    redacted = copy.deepcopy(document)
    found: dict[str, str] = {}
    for name, value in dict(redacted.get("secrets") or {}).items():
        found[f"/secrets/{name}"] = value
        redacted["secrets"][name] = REDACTED
    auth = redacted.get("auth")
    if isinstance(auth, dict):
        for name in _AUTH_SECRETS:
            if isinstance(auth.get(name), str):
                found[f"/auth/{name}"] = auth[name]
                auth[name] = REDACTED
    return redacted, found


def merge_secrets(redacted: dict[str, Any], found: dict[str, str]) -> dict[str, Any]:
    document = copy.deepcopy(redacted)
    for pointer, value in found.items():
        section, name = pointer.strip("/").split("/", 1)
        document[section][name] = value
    return document


def keep_unchanged(found: dict[str, str], previous: dict[str, str]) -> list[Problem]:
    """Fill in secrets sent as the marker from the previous version (in place)."""
    problems = []
    for pointer, value in found.items():
        if value != REDACTED:
            continue
        if pointer in previous:
            found[pointer] = previous[pointer]
        else:
            problems.append(Problem(pointer, "secret", "no earlier value to keep: send it"))
    return problems


def seal(pii: PiiCipher, found: dict[str, str]) -> str:
    return pii.encrypt(json.dumps(found, ensure_ascii=False), field=SECRETS_FIELD)


def unseal(pii: PiiCipher, sealed: str) -> dict[str, str]:
    opened: dict[str, str] = json.loads(pii.decrypt(sealed, field=SECRETS_FIELD))
    return opened


def check_depth(document: Any) -> None:
    """Refuse a spec nested deeper than any real one (integrations.spec.MAX_SPEC_DEPTH)."""
    if (problem := depth_problem(document)) is not None:
        raise refuse([Problem(problem.path, problem.rule, problem.message)])


def compile_spec(document: Any) -> AdapterSpec:
    """Schema and mappings; every problem at once. No variables are expanded."""
    if not isinstance(document, dict):
        raise refuse([Problem("/", "type", "the spec must be a JSON object")])
    try:
        return parse_spec(document, StrictVariables())
    except SpecError as exc:
        raise refuse([Problem(p.path, p.rule, p.message) for p in exc.problems]) from None


async def check_addresses(spec: AdapterSpec, policy: HostPolicy) -> list[Problem]:
    """Every URL the adapter would call, against the provider's hosts (DNS resolved now;
    the transport checks again at each connection)."""
    urls = [("/base_url", spec.base_url)]
    token_url = spec.auth.get("token_url")
    if isinstance(token_url, str):
        urls.append(("/auth/token_url", token_url))
    problems = []
    for path, url in urls:
        problems += [
            Problem(path, "address", text) for text in await check_url_resolving(url, policy)
        ]
    return problems


async def validate(document: Any, policy: HostPolicy) -> AdapterSpec:
    spec = compile_spec(document)
    problems = await check_addresses(spec, policy)
    if problems:
        raise refuse(problems)
    return spec
