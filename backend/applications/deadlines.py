"""The promised-time clock of an application: started at acceptance, paused while a
supplement is outstanding, stopped when the matter is finished.

``due_on`` is the ``promised + paused``-th working day after acceptance and ``warn_on``
the day 80% of the promised time is used, so both move on by exactly the working days
a supplement kept the clock paused (a holiday inside the pause costs nothing). The
traffic light compares dates, so reading it needs no calendar:

- green: less than 80% used;
- yellow: 80% used (``warn_on`` reached);
- red: the due date has passed (overdue).

A paused clock shows the light of the day it paused; a finished one, of the day it
finished.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

from backend.applications.models import Application
from backend.applications.working_days import WorkingCalendar
from backend.clock import china_date

Light = Literal["green", "yellow", "red"]
WARN_SHARE = 0.8


def start(application: Application, calendar: WorkingCalendar, promised: int, day: date) -> None:
    """Acceptance: the clock starts with the service's promised working days."""
    application.promised_days, application.paused_days = promised, 0
    reschedule(application, calendar, day)


def reschedule(application: Application, calendar: WorkingCalendar, accepted: date) -> None:
    """Due and warning dates from acceptance, the promise and the pauses so far."""
    promised = application.promised_days or 0
    due = calendar.add_working_days(accepted, promised + application.paused_days)
    warn_after = math.ceil(promised * WARN_SHARE) + application.paused_days
    application.due_on, application.due_estimated = due.due, due.estimated
    application.warn_on = calendar.add_working_days(accepted, warn_after).due


def pause(application: Application, day: date) -> None:
    if application.due_on is not None and application.paused_on is None:
        application.paused_on = day


def resume(application: Application, calendar: WorkingCalendar, day: date) -> None:
    """The supplement is in (or the matter withdrawn): add the paused working days."""
    if application.paused_on is None or application.accepted_at is None:
        return
    application.paused_days += calendar.working_days_between(application.paused_on, day)
    application.paused_on = None
    reschedule(application, calendar, china_date(application.accepted_at))


def used_working_days(application: Application, calendar: WorkingCalendar, day: date) -> int:
    """Working days the clock has run from acceptance to ``day``, pauses excluded."""
    if application.accepted_at is None:
        return 0
    return max(
        0,
        calendar.working_days_between(china_date(application.accepted_at), day)
        - application.paused_days,
    )


def light(application: Application, today: date) -> Light | None:
    if application.due_on is None or application.warn_on is None:
        return None
    if application.finished_at is not None:
        day = china_date(application.finished_at)
    else:
        day = application.paused_on or today
    if day > application.due_on:
        return "red"
    if day >= application.warn_on:
        return "yellow"
    return "green"
