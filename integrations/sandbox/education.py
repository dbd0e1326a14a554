"""Education bureau: legacy ``*.action`` form posts answering JSON.

Auth is the ``appkey`` form field. Every answer is HTTP 200, either
``{"status": "success", "result": …}`` or ``{"status": "fail", "errmsg": "…"}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from . import data
from .common import SANDBOX_CREDENTIALS, json_response, new_app, receipt_no, secret_matches
from .data import REFERENCE_DATE

APP_KEY = SANDBOX_CREDENTIALS["education"]["app_key"]
Form = MultiDictProxy[Any]


def ok(result: object) -> web.Response:
    return json_response({"status": "success", "result": result})


def fail(message: str) -> web.Response:
    return json_response({"status": "fail", "errmsg": message})


class _Fail(Exception):
    pass


def _field(form: Form, name: str) -> str:
    value = str(form.get(name, "")).strip()
    if not value:
        raise _Fail(f"缺少参数{name}")
    return value


def _sfzh(form: Form) -> str:
    id_no = str(form.get("sfzh", "")).strip()
    if not data.is_valid_id_format(id_no):
        raise _Fail("身份证号码格式错误")
    return id_no


def _year(form: Form) -> int:
    text = str(form.get("year", "")).strip() or str(REFERENCE_DATE.year)
    if not (text.isdigit() and 2000 <= int(text) <= 2100):
        raise _Fail("year格式错误")
    return int(text)


def action(
    handle: Callable[[Form], object],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap an action: read the form, check the appkey, map _Fail to the fail envelope."""

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        if not secret_matches(str(form.get("appkey", "")), APP_KEY):
            return fail("appkey无效，拒绝访问")
        try:
            return ok(handle(form))
        except _Fail as err:
            return fail(str(err))

    return handler


def schools(form: Form) -> object:
    stage = str(form.get("stage", "")).strip() or None
    if stage not in (None, "primary", "junior"):
        raise _Fail("stage只能是primary或junior")
    return {"list": data.schools(_field(form, "district"), stage)}


def enrolment(form: Form) -> object:
    return data.enrolment(_sfzh(form), _year(form))


def exam(form: Form) -> object:
    id_no, kind, year = _sfzh(form), _field(form, "exam"), _year(form)
    result = data.exam_result(id_no, kind, year)
    if result is None:
        raise _Fail("exam只能是zhongkao或gaokao")
    return result


def apply(form: Form) -> object:
    _sfzh(form)
    _field(form, "applicationType")
    try:
        filled = json.loads(str(form.get("form", "")) or "{}")
    except ValueError:
        raise _Fail("form必须是JSON文本") from None
    if not isinstance(filled, dict):
        raise _Fail("form必须是JSON对象")
    return {"receiptNo": receipt_no("JY")}


def create_app() -> web.Application:
    app = new_app("education")
    app.router.add_post("/edu/schools.action", action(schools))
    app.router.add_post("/edu/enrolment.action", action(enrolment))
    app.router.add_post("/edu/exam.action", action(exam))
    app.router.add_post("/edu/apply.action", action(apply))
    return app
