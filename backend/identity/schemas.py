"""Request and response bodies of identity."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.identity.validators import CreditCode, IdNumber, PersonName, PhoneNumber
from backend.pagination import Page

Client = Literal["app", "mini_program", "web"]

# Examples for the OpenAPI document. The phone numbers and the ID number pass the validators
# (GB 11643 check digit); the token is the shape this API issues (ES256 JWT), never a live one.
_PHONE = "13812341234"
_ACCESS_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjAxOWNmMWEwLTBjMDAtN2E1MS04ZTBiLTNjNGQ1ZTZmN2E4MSIs"
    "InR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FwaS5oZWZlaXRvbmcuZ292LmNuIiwic3ViIjoiMDE"
    "5Y2Y0NDItNmQ0MC03ZTQxLTlmZjEtZmEzYWVmMWEzMjQ5IiwiYXVkIjoiaGVmZWl0b25nLWFwcCIsIml"
    "hdCI6MTc3MzYyNDU5NSwiZXhwIjoxNzczNjI1NDk1LCJqdGkiOiIwMTljZjQ0My05MjQwLTdjMTItYjN"
    "hOC00N2U1ZDBjOWYxYTIiLCJ0eXAiOiJhY2Nlc3MiLCJsdmwiOjIsInNpZCI6IjAxOWNmNDQzLTkyMzg"
    "tNzAzZS04OGYxLWJiNzZkOTIwYmI4MyIsImF1dGhfdGltZSI6MTc3MzYyNDU5NX0.YFv1fvIczyQMICE"
    "NlUbIun_MiDa_m3aL-8OW8066oFNHBpf2KNJ3C4EHmdo5ZpqOu1XUpyyIxIToRtLx9Xj_kg"
)
_TOKEN_PAIR: dict[str, Any] = {
    "access_token": _ACCESS_TOKEN,
    "token_type": "Bearer",
    "expires_in": 900,
    "refresh_token": "DCMNHFe5dW40AlRPfb-oaVVELFaV8IxQOmqD8vfE5dQ",
    "session_id": "019cf443-9238-703e-88f1-bb76d920bb83",
}


class _Body(BaseModel):
    # hide_input_in_errors: a rejected phone or ID number must not travel on in error text.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class SmsCodeRequest(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": _PHONE}]})

    phone: PhoneNumber = Field(examples=["13812341234"])


class SmsCodeSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"expires_in": 300, "resend_after": 60}]}
    )

    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be sent")


class DeviceInfo(_Body):
    client: Client = "app"
    device: str = Field(default="unknown", max_length=128, examples=["iPhone 15 / 合肥通 3.2"])


class SmsLogin(DeviceInfo):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone": _PHONE,
                    "code": "123456",
                    "client": "app",
                    "device": "iPhone 15 / 合肥通 3.2",
                }
            ]
        }
    )

    phone: PhoneNumber
    code: str = Field(pattern=r"^\d{6}$", examples=["123456"])


class PasswordLogin(DeviceInfo):
    phone: PhoneNumber
    password: str = Field(min_length=1, max_length=128)


class RefreshRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"refresh_token": "DCMNHFe5dW40AlRPfb-oaVVELFaV8IxQOmqD8vfE5dQ"}]
        }
    )

    refresh_token: str = Field(min_length=16, max_length=256)


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN_PAIR]})

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque, single use: each refresh returns a new one")
    session_id: str


class PasswordChange(_Body):
    password: str = Field(min_length=8, max_length=128)


class RealNameRequest(_Body):
    name: PersonName = Field(examples=["张三"])
    id_number: IdNumber = Field(examples=["340104199003072019"])


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019cf442-6d40-7e41-9ff1-fa3aef1a3249",
                    "phone": "138****1234",
                    "name": "张*",
                    "id_number": "3401**********2019",
                    "assurance_level": 2,
                    "has_password": False,
                    "created_at": "2026-03-16T01:28:40Z",
                }
            ]
        }
    )

    id: str
    phone: str = Field(description="Masked (138****1234) unless revealed")
    name: str | None
    id_number: str | None = Field(description="Masked (3401**********201X) unless revealed")
    assurance_level: int = Field(ge=1, le=3)
    has_password: bool
    created_at: datetime


class SessionOut(BaseModel):
    id: str
    client: str
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class SessionList(Page[SessionOut]):
    pass


class MiniProgramLoginRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "wechat",
                    "code": "0c3Qx1Ga1QxX9K0Vbd0Ga2Y3Mn2Qx1GJ",
                    "device": "微信小程序 / iPhone 15",
                }
            ]
        }
    )

    platform: Literal["wechat", "alipay"]
    code: str = Field(
        min_length=1, max_length=128, description="The platform's one-time login code"
    )
    device: str = Field(default="mini-program", max_length=128)


class MiniProgramLoginResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                # The first time: verify a phone with /v1/auth/login/mini-program/bind.
                {
                    "bound": False,
                    "tokens": None,
                    "binding_ticket": "y0DZPUQI6nIRVnOw8utR-i9kqL33L9Yf",
                    "ticket_expires_in": 600,
                },
                # Already bound: signed in.
                {
                    "bound": True,
                    "tokens": _TOKEN_PAIR,
                    "binding_ticket": None,
                    "ticket_expires_in": None,
                },
            ]
        }
    )

    bound: bool = Field(description="False the first time: verify a phone to bind")
    tokens: TokenPair | None = None
    binding_ticket: str | None = Field(default=None, description="For /login/mini-program/bind")
    ticket_expires_in: int | None = None


class MiniProgramBind(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "binding_ticket": "y0DZPUQI6nIRVnOw8utR-i9kqL33L9Yf",
                    "phone": _PHONE,
                    "code": "123456",
                    "device": "微信小程序 / iPhone 15",
                }
            ]
        }
    )

    binding_ticket: str = Field(min_length=16, max_length=64)
    phone: PhoneNumber
    code: str = Field(pattern=r"^\d{6}$")
    device: str = Field(default="mini-program", max_length=128)


class FaceVerification(_Body):
    image: str = Field(
        min_length=16,
        max_length=2_000_000,
        pattern=r"^[A-Za-z0-9+/=\s]+$",
        description="The live photo, base64 (the app's liveness SDK takes it)",
    )


class EnterpriseLinkRequest(_Body):
    credit_code: CreditCode = Field(examples=["91340100MA2N0XYW1H"])


class AgentRequest(_Body):
    phone: PhoneNumber


class ActAsRequest(_Body):
    credit_code: CreditCode | None = Field(
        default=None, description="The enterprise to act for; null to act for yourself again"
    )


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    role: Literal["legal_representative", "agent"]


class EnterpriseList(Page[EnterpriseOut]):
    pass


class AgentOut(BaseModel):
    """An agent of the enterprise, or an invitation still waiting for an answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019cf443-9238-703e-88f1-bb76d920bb83",
                    "status": "active",
                    "phone": "138****1234",
                    "name": "张*",
                    "invited_at": "2026-03-16T02:05:33Z",
                    "expires_at": None,
                }
            ]
        }
    )

    id: str = Field(description="For `DELETE …/agents/{agent_id}`")
    status: Literal["invited", "active"] = Field(
        description="`invited`: waiting for an answer; `active`: accepted, acts for the enterprise"
    )
    phone: str = Field(description="Masked")
    name: str | None = Field(description="Masked; null until the invitation is accepted")
    invited_at: datetime
    expires_at: datetime | None = Field(description="When an unanswered invitation lapses")


class AgentList(Page[AgentOut]):
    pass


class InvitationOut(BaseModel):
    """An invitation to act for an enterprise, waiting for the citizen's answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019cf443-9238-703e-88f1-bb76d920bb83",
                    "credit_code": "91340100MA2N0XYW1H",
                    "enterprise_name": "合肥某某科技有限公司",
                    "invited_at": "2026-03-16T02:05:33Z",
                    "expires_at": "2026-03-23T02:05:33Z",
                }
            ]
        }
    )

    id: str
    credit_code: str
    enterprise_name: str
    invited_at: datetime
    expires_at: datetime


class InvitationList(Page[InvitationOut]):
    pass
