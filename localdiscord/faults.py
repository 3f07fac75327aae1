"""Injected REST failures: rate limits (429) and server errors (5xx) on chosen routes.

discord.py retries a 429 only when the response has a ``Via`` header and a JSON ``retry_after``
(without ``Via`` it assumes a Cloudflare ban and raises), and retries 500/502/504/524 after
sleeping ``1 + 2 * attempt`` seconds; any other status is raised to the bot.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass
class Fault:
    """One armed failure; ``remaining`` counts down as requests hit it, ``hits`` counts up."""

    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    retry_after: float
    is_global: bool
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in (method, "*")
            and self.pattern.fullmatch(path) is not None
        )

    def response(self) -> tuple[int, JSON, dict[str, str]]:
        """Status, JSON body and headers, shaped like Discord's (and Cloudflare's ``Via``)."""
        if self.status == 429:
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(math.ceil(self.retry_after)),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            body: JSON = {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
            }
            return 429, body, headers
        return self.status, {"message": f"{self.status}: Injected server error", "code": 0}, {}


class Faults:
    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def add(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> Fault:
        if status < 400:
            raise ValueError(f"status {status} is not an error; use 429 or a 4xx/5xx status")
        fault = Fault(method.upper(), re.compile(path_regex), status, times, retry_after, is_global)
        self.armed.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault for this request, consumed by one; None if none applies."""
        for fault in self.armed:
            if fault.matches(method, path):
                fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        self.armed.clear()
