"""The deterministic data generator: stable across processes, plausible, well-formed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

from integrations.sandbox import data

CITIZEN = "340104199001011234"
MONEY = re.compile(r"-?\d+\.\d{2}")
SAMPLE = [data.make_id_no(str(n)) for n in range(300)]

_SNAPSHOT = """
import json, sys
from integrations.sandbox import data
ids = sys.argv[1:]
print(json.dumps([[data.person_name(i), data.pension_record(i), data.provident_fund_account(i),
                   data.violations(i), data.licences(i), data.properties(i)] for i in ids],
                 ensure_ascii=False))
"""


def _snapshot(ids: list[str]) -> object:
    return json.loads(
        json.dumps(
            [
                [
                    data.person_name(i),
                    data.pension_record(i),
                    data.provident_fund_account(i),
                    data.violations(i),
                    data.licences(i),
                    data.properties(i),
                ]
                for i in ids
            ],
            ensure_ascii=False,
        )
    )


def test_same_answers_in_another_process_with_another_hash_seed() -> None:
    ids = [CITIZEN, *SAMPLE[:5]]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT, *ids], capture_output=True, check=True, env=env
    )
    assert json.loads(out.stdout) == _snapshot(ids)


def test_names_are_chinese_and_stable() -> None:
    name = data.person_name(CITIZEN)
    assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", name)
    assert data.person_name(CITIZEN) == name
    assert len({data.person_name(i) for i in SAMPLE}) > 200


def test_id_checksum_follows_gb11643() -> None:
    assert data.is_valid_id_checksum("11010519491231002X")  # the standard's own example
    assert not data.is_valid_id_checksum("110105194912310021")
    assert all(data.is_valid_id_checksum(i) for i in SAMPLE)
    assert data.is_valid_id_format("34010419900101123X")
    assert not data.is_valid_id_format("3401041990010112")
    assert not data.is_valid_id_format("34010419900101123x")


def test_amounts_have_two_places_and_dates_fall_in_range() -> None:
    for id_no in SAMPLE[:80]:
        account = data.provident_fund_account(id_no)
        for key in ("balance", "monthlyDeposit", "depositBase"):
            assert MONEY.fullmatch(account[key])
        assert MONEY.fullmatch(data.pension_record(id_no)["AccountBalance"])
        for v in data.violations(id_no):
            assert MONEY.fullmatch(v["fine"])
            assert "2020" <= v["time"][:4] <= "2026"
        for loan in data.provident_fund_loans(id_no):
            assert MONEY.fullmatch(loan["remaining"])
            assert date(2020, 1, 1) <= date.fromisoformat(loan["startDate"]) <= date(2026, 12, 31)
        for home in data.properties(id_no):
            assert "2020" <= home["registeredAt"][:4] <= "2026"


def test_violation_counts_span_zero_to_twenty_five() -> None:
    counts = [len(data.violations(i)) for i in SAMPLE]
    assert min(counts) == 0
    assert max(counts) <= 25
    assert any(c > 10 for c in counts)


def test_every_citizen_holds_an_id_card_and_household_register() -> None:
    for id_no in SAMPLE[:50]:
        kinds = {lic["licenceType"] for lic in data.licences(id_no)}
        assert {"id_card", "household_register"} <= kinds
        assert kinds <= set(data.LICENCE_TYPES)


def test_departments_agree_about_one_citizen() -> None:
    for id_no in SAMPLE[:50]:
        balance = data.social_security_balance(id_no)
        assert balance["PensionBalance"] == data.pension_record(id_no)["AccountBalance"]
        plates = {v["plateNo"] for v in data.vehicles(id_no)}
        assert {p["plateNo"] for p in data.parking_records(id_no)} <= plates
        unpaid = {v["violationId"] for v in data.violations(id_no) if not v["handled"]}
        assert {f["violationId"] for f in data.fines(id_no)} == unpaid


def test_every_day_with_slots_has_a_full_one() -> None:
    dept = data.departments("H001")
    assert dept is not None
    for day in range(1, 15):
        slots = data.slots(dept[0]["deptId"], date(2026, 12, day))
        assert slots is not None
        if slots:
            assert any(s["remaining"] == 0 for s in slots)
