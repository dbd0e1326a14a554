"""Settings: embedded defaults, environment overrides, and production's refusals."""

from __future__ import annotations

import base64
import secrets

import pytest

from backend.settings import Settings, UnsafeSettingsError


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HEFEITONG_DATABASE_URL", "HEFEITONG_REDIS_URL", "HEFEITONG_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("/var/hefeitong.db")
    assert settings.redis_url is None
    assert settings.should_auto_migrate
    settings.check_safe()  # development accepts its own defaults


def test_environment_selects_postgres_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEFEITONG_DATABASE_URL", "postgresql+asyncpg://postgres@db/hft")
    monkeypatch.setenv("HEFEITONG_REDIS_URL", "redis://cache:6379/0")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+asyncpg://postgres@db/hft"
    assert settings.redis_url == "redis://cache:6379/0"
    assert not settings.should_auto_migrate


def test_production_refuses_dev_defaults_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEFEITONG_ENV", "production")
    for name in ("HEFEITONG_DATABASE_URL", "HEFEITONG_REDIS_URL", "HEFEITONG_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UnsafeSettingsError) as refused:
        Settings().check_safe()
    message = str(refused.value)
    for name in (
        "HEFEITONG_DATABASE_URL",
        "HEFEITONG_REDIS_URL",
        "HEFEITONG_SECRET_KEY",
        "HEFEITONG_SIGNING_KEY_DIR",
        "HEFEITONG_PII_KEYS",
    ):
        assert name in message


def test_production_with_real_settings_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEFEITONG_ENV", "production")
    monkeypatch.setenv("HEFEITONG_DATABASE_URL", "postgresql+asyncpg://postgres@db/hft")
    monkeypatch.setenv("HEFEITONG_REDIS_URL", "redis://cache:6379/0")
    # Generated as the README says (a secret of one repeated letter is refused: see
    # tests/security/test_api8_security_misconfiguration.py).
    monkeypatch.setenv("HEFEITONG_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("HEFEITONG_SIGNING_KEY_DIR", "/run/secrets/keys")
    monkeypatch.setenv(
        "HEFEITONG_PII_KEYS", "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    monkeypatch.setenv(
        "HEFEITONG_PII_INDEX_KEY", base64.b64encode(secrets.token_bytes(32)).decode()
    )
    Settings().check_safe()


def test_production_refuses_sms_codes_without_back_off_and_the_replaced_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEFEITONG_ENV", "production")
    monkeypatch.setenv("HEFEITONG_SMS_BACKOFF_SECONDS", "0")
    # Replaced by the HEFEITONG_SMS_* limits (issue 13): refused, not silently ignored.
    monkeypatch.setenv("HEFEITONG_SMS_LIMIT_PER_PHONE", "1/minute;10/day")
    with pytest.raises(UnsafeSettingsError) as refused:
        Settings().check_safe()
    assert "HEFEITONG_SMS_BACKOFF_SECONDS is 0" in str(refused.value)
    assert "HEFEITONG_SMS_LIMIT_PER_PHONE is no longer read" in str(refused.value)
