"""In-app messages from identity to a citizen ("an agent accepted your invitation").

The message centre belongs to applications, which imports identity; identity importing it
back would be a package cycle (import-linter's "acyclic" contract). So identity declares what
it needs, ``CitizenNotices``, and the composition root (``backend/app.py``) hands it the
message centre's ``post_notice``. The notice is written in the caller's database session, so
it commits (or rolls back) with the change it tells of: no outbox, no notice of a change that
did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession


@dataclass(frozen=True)
class Notice:
    """One message: what it is about (``kind``, for the app to route a tap), title, text.

    Title and text are shown as they are (Simplified Chinese, like every message); personal
    data in them is masked.
    """

    kind: str
    title: str
    body: str


class CitizenNotices(Protocol):
    async def __call__(self, db: AsyncSession, citizen_id: str, notice: Notice) -> None:
        """Put ``notice`` in the citizen's message centre, in ``db``'s transaction."""
        ...
