"""Public-security identity check (公安人口库核验), a Python adapter.

The HTTP exchange is plain JSON, but every check is billed and logged by the
department, so numbers that cannot be real (GB 11643 check digit, birth date) are
answered locally without a call — logic a declarative spec cannot express.
Registered through the ``hefeitong.adapters`` entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.base import Caller, OperationInfo
from integrations.http_adapter import SpecAdapter
from integrations.identifiers import is_valid_id_number
from integrations.spec import parse_spec
from integrations.transport import Transport

SPEC: dict[str, Any] = {
    "id": "identity_check",
    "name_zh": "公安人口信息核验",
    "name_en": "Public-security identity check",
    "base_url": "${IDENTITY_CHECK_BASE_URL:-http://127.0.0.1:18106}",
    "auth": {
        "scheme": "api_key",
        "header": "X-Api-Key",
        "value": "${IDENTITY_CHECK_API_KEY:-sandbox-idcheck-key}",
    },
    "defaults": {
        "timeout": 3,
        "success": "contains(['00', '01', '02', '03'], resultCode)",
        "error_code": "resultCode",
    },
    "operations": {
        "verify": {
            "summary_zh": "姓名与身份证号码核验",
            "summary_en": "Check that a name matches an ID number",
            "method": "POST",
            "path": "/idcheck/v1/verify",
            "params": {
                "type": "object",
                "required": ["name", "id_number"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 32},
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$"},
                },
                "additionalProperties": False,
            },
            "body": {"name": "params.name", "idNumber": "params.id_number"},
            "result": "{match: resultCode == '00', result_code: resultCode}",
        },
        "face": {
            "summary_zh": "人脸比对",
            "summary_en": "Face match against the ID photo",
            "method": "POST",
            "path": "/idcheck/v1/face",
            "params": {
                "type": "object",
                "required": ["id_number", "image"],
                "properties": {
                    "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$"},
                    "image": {"type": "string", "minLength": 1, "maxLength": 2_000_000},
                },
                "additionalProperties": False,
            },
            "body": {"idNumber": "params.id_number", "image": "params.image"},
            "result": (
                "{match: resultCode == '00', similarity: similarity, result_code: resultCode}"
            ),
        },
    },
}


class IdentityCheckAdapter:
    def __init__(self, transport: Transport, variables: Mapping[str, str]) -> None:
        self._inner = SpecAdapter(parse_spec(SPEC, variables), transport)

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def operations(self) -> Mapping[str, OperationInfo]:
        return self._inner.operations

    @property
    def concurrency(self) -> int:
        return self._inner.concurrency

    async def call(
        self, operation: str, params: Mapping[str, Any], caller: Caller, timeout: float
    ) -> Any:
        if not is_valid_id_number(str(params.get("id_number", ""))):
            return {"match": False, "result_code": "02", "similarity": None}
        return await self._inner.call(operation, params, caller, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()


def create(transport: Transport, variables: Mapping[str, str]) -> IdentityCheckAdapter:
    return IdentityCheckAdapter(transport, variables)
