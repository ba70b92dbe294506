"""Request and response models of /v1/keys (kept apart from schemas.py to keep merges small)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .@:/+-]+$",
                      description="Who or what uses the key, e.g. 'desk-bot'.")
    scope: Literal["read", "write", "admin"]


class KeyOut(BaseModel):
    id: str
    name: str
    scope: Literal["read", "write", "admin"]
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


class KeyCreated(BaseModel):
    id: str
    name: str
    scope: Literal["read", "write", "admin"]
    key: str = Field(description="Shown once; send it as `Authorization: Bearer KEY`.")
