"""Authorization request values passed between the protocol surface and the rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..clients.models import Client

TOKEN_CHARS = re.compile(r"^[A-Za-z0-9\-_]+$")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
PROMPTS = {"none", "login", "consent", "select_account"}


@dataclass
class ValidatedRequest:
    """An authorization request that passed every check, ready to be stored."""

    client: Client
    redirect_uri: str
    state: str | None
    params: dict[str, Any]
    required_loa: str
