"""Identity tables. Personal data is stored encrypted, with keyed hashes for lookup."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from backend.db import UtcDateTime
from backend.ids import uuid7


def _utc_column(nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable)


class Citizen(SQLModel, table=True):
    __tablename__ = "identity_citizen"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    phone_enc: str
    phone_hash: str = Field(unique=True, index=True, max_length=64)
    password_hash: str | None = None
    name_enc: str | None = None
    id_number_enc: str | None = None
    # Unique: one national ID number belongs to one account.
    id_number_hash: str | None = Field(default=None, unique=True, max_length=64)
    assurance_level: int = 1
    created_at: datetime = Field(sa_column=_utc_column())
    updated_at: datetime = Field(sa_column=_utc_column())


class MiniProgramBinding(SQLModel, table=True):
    """A WeChat or Alipay mini-program user, bound to an account by phone verification."""

    __tablename__ = "identity_mini_program_binding"
    __table_args__ = (UniqueConstraint("platform", "openid"),)

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    platform: str = Field(max_length=16)
    openid: str = Field(max_length=128)
    unionid: str | None = Field(default=None, max_length=128)
    citizen_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    created_at: datetime = Field(sa_column=_utc_column())


LIVE_CONDITION = "revoked_at IS NULL"


class AuthSession(SQLModel, table=True):
    """One signed-in device: the family of its refresh tokens."""

    __tablename__ = "identity_session"
    __table_args__ = (
        # The citizen's live sessions, a page at a time (and all of them for logout-all).
        Index(
            "ix_identity_session_live_page",
            "citizen_id",
            "created_at",
            "id",
            postgresql_where=text(LIVE_CONDITION),
            sqlite_where=text(LIVE_CONDITION),
        ),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    citizen_id: str = Field(foreign_key="identity_citizen.id", max_length=36)
    client: str = Field(max_length=32)  # app | mini_program | web
    device: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=_utc_column())
    last_used_at: datetime = Field(sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored as its SHA-256; each is used once and replaced."""

    __tablename__ = "identity_refresh_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="identity_session.id", index=True, max_length=36)
    issued_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())
    used_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class OAuthClient(SQLModel, table=True):
    """A registered system: a department (client credentials) or a web app (sign-in)."""

    __tablename__ = "identity_oauth_client"

    client_id: str = Field(primary_key=True, max_length=64)
    # SHA-256 suffices: secrets are 256 random bits, nothing to guess word by word.
    secret_hash: str = Field(max_length=64)
    name: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # department | web
    # The catalog department a department system acts for (provider API permissions).
    department_code: str | None = Field(default=None, max_length=64)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_utc_column())
    secret_rotated_at: datetime = Field(sa_column=_utc_column())


class Consent(SQLModel, table=True):
    """What a citizen allowed a department's web system to know; revocable."""

    __tablename__ = "identity_consent"
    __table_args__ = (UniqueConstraint("citizen_id", "client_id"),)

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    citizen_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    client_id: str = Field(foreign_key="identity_oauth_client.client_id", max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    granted_at: datetime = Field(sa_column=_utc_column())


class Enterprise(SQLModel, table=True):
    """A legal person, known by its unified social credit code (public, not personal data)."""

    __tablename__ = "identity_enterprise"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    credit_code: str = Field(unique=True, max_length=18)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_utc_column())


class EnterpriseLink(SQLModel, table=True):
    """A citizen who may act for an enterprise: its legal representative or an agent."""

    __tablename__ = "identity_enterprise_link"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "citizen_id"),
        # "My enterprises", a page at a time.
        Index("ix_identity_enterprise_link_citizen_page", "citizen_id", "created_at", "id"),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    enterprise_id: str = Field(foreign_key="identity_enterprise.id", index=True, max_length=36)
    citizen_id: str = Field(foreign_key="identity_citizen.id", max_length=36)
    role: str = Field(max_length=32)  # legal_representative | agent
    granted_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_column=_utc_column())


# An invitation still waiting for an answer, or accepted (its agent still acting).
OPEN_INVITATION = "status IN ('pending', 'accepted')"


class AgentInvitation(SQLModel, table=True):
    """An enterprise's invitation to a phone to act as its agent; once accepted, the agent.

    Kept by phone (its keyed hash, and encrypted to show it masked), not by account: inviting
    answers the same whether or not the phone has an account, and the invitation waits for the
    phone's owner to sign in, verify their real name and accept it. The agent's authority is
    the ``EnterpriseLink`` accepting creates; this row is the record of their consent and the
    id the legal representative removes them by.
    """

    __tablename__ = "identity_agent_invitation"
    __table_args__ = (
        # One open invitation (or agency) per enterprise and phone, whatever the concurrency.
        Index(
            "uq_identity_agent_invitation_open",
            "enterprise_id",
            "phone_hash",
            unique=True,
            postgresql_where=text(OPEN_INVITATION),
            sqlite_where=text(OPEN_INVITATION),
        ),
        # The enterprise's agents and invitations, and the invitations to a phone, by page.
        Index("ix_identity_agent_invitation_enterprise_page", "enterprise_id", "created_at", "id"),
        Index("ix_identity_agent_invitation_phone_page", "phone_hash", "created_at", "id"),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    enterprise_id: str = Field(foreign_key="identity_enterprise.id", max_length=36)
    phone_hash: str = Field(max_length=64)
    phone_enc: str
    invited_by: str = Field(max_length=36)
    # pending | accepted | declined | withdrawn (by the enterprise) | removed | left
    status: str = Field(max_length=16)
    # The agent, once accepted.
    citizen_id: str | None = Field(default=None, foreign_key="identity_citizen.id", max_length=36)
    created_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
