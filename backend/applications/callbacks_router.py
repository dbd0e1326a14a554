"""Signed callbacks from department systems that push (Standard Webhooks)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["provider"])
