"""All 238 catalog services are bound to a working adapter operation."""

from __future__ import annotations

from typing import Any

from integrations.sandbox import data
from tests.conftest import SharedApp
from tests.gateway.helpers import CATALOG, citizen, first_department, invoke

H001_DEPARTMENT = first_department("H001")
SLOT = next(s for s in data.slots(H001_DEPARTMENT, data.REFERENCE_DATE) or [] if s["remaining"])


def sample_params(adapter: str, operation: str, who: str) -> dict[str, Any]:
    """Parameters a citizen would send; writes get a form or the record they act on."""
    bills = data.payables(who) or [{"BillNo": "B-NONE"}]
    fines = data.fines(who) or [{"fineNo": "F-NONE"}]
    samples: dict[tuple[str, str], dict[str, Any]] = {
        ("hospital", "departments"): {"hospital_id": "H001"},
        ("hospital", "doctors"): {"department_id": H001_DEPARTMENT},
        ("hospital", "slots"): {"department_id": H001_DEPARTMENT, "date": "2026-10-31"},
        ("hospital", "book"): {"slot_id": SLOT["slotId"]},
        ("hospital", "cancel_appointment"): {"appointment_id": "GH-NONE"},
        ("hrss", "employment_registration"): {"employer": "某科技", "start_date": "2026-12-01"},
        ("hrss", "pay"): {"bill_no": bills[0]["BillNo"]},
        ("provident_fund", "withdrawal_apply"): {"reason": "租房", "amount": "1.00"},
        ("traffic_police", "pay"): {"fine_no": fines[0]["fineNo"]},
        ("education", "schools"): {"district": "340104"},
        ("education", "enrolment"): {"child_id_number": citizen("child-" + who)},
        ("education", "exam_results"): {"exam": "zhongkao"},
    }  # fmt: skip
    if operation == "submit_application":
        return {"form": {"note": "测试申请"}}
    return samples.get((adapter, operation), {})


async def test_every_catalog_service_is_invocable(embedded_app: SharedApp) -> None:
    embedded = embedded_app.client
    outcomes: dict[str, str] = {}
    for service in CATALOG.services:
        who = citizen(f"every-{service.code}")
        params = (
            sample_params(service.adapter.id, service.adapter.operation, who)
            if (service.adapter)
            else {}
        )
        response = await invoke(embedded, service.code, who, params)
        problem = response.json().get("code") if response.status_code != 200 else None
        # A business refusal (already paid, duplicate booking) still proves the department
        # was reached and its reply translated; anything else is a broken binding.
        if response.status_code != 200 and problem != "DEPARTMENT_REJECTED":
            outcomes[service.code] = f"{response.status_code} {response.text[:200]}"
    assert outcomes == {}
    assert len(CATALOG.services) == 238
