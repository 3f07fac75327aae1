"""Discord's message limits, enforced so that a bot which overflows them fails here as it would
on Discord (a 400 the bot must handle) instead of passing every local test.

Limits from https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .components import component_errors

JSON = dict[str, Any]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
# (path inside an embed, limit)
EMBED_TEXT_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024


class ApiError(Exception):
    """An error answer in Discord's JSON shape; ``rest.py`` turns it into the HTTP response."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


class _FormErrors:
    """Collects per-field errors into Discord's nested ``{"a": {"0": {"_errors": [...]}}}``."""

    def __init__(self) -> None:
        self.errors: JSON = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.errors
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: object, limit: int) -> int:
        text = value if isinstance(value, str) else ""
        if len(text) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return len(text)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", self.errors)


def _embed_errors(form: _FormErrors, index: int, embed: JSON) -> int:
    """Check one embed; returns its character count towards the 6000 total."""
    total = 0
    for keys, limit in EMBED_TEXT_LIMITS:
        value: Any = embed
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        total += form.max_length(("embeds", index, *keys), value, limit)
    url = embed.get("url")
    if url is not None and urlparse(str(url)).scheme not in ("http", "https"):
        form.add(
            ("embeds", index, "url"),
            "URL_TYPE_INVALID_URL",
            f"Scheme {urlparse(str(url)).scheme!r} is not supported. Scheme must be one of "
            "('http', 'https').",
        )
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        form.add(
            ("embeds", index, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
        )
    for n, field in enumerate(fields):
        for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
            value = field.get(key)
            if not value:
                form.add(
                    ("embeds", index, "fields", n, key),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                )
            total += form.max_length(("embeds", index, "fields", n, key), value, limit)
    return total


def validate_message(body: JSON, *, attachments: int = 0, editing: bool = False) -> None:
    """Raise ``ApiError`` as Discord would for a message create (or edit) body."""
    form = _FormErrors()
    content = body.get("content")
    form.max_length(("content",), content, CONTENT_MAX)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        form.add(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    total = sum(_embed_errors(form, i, e) for i, e in enumerate(embeds) if isinstance(e, dict))
    if total > EMBED_TOTAL_MAX:
        form.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    mentions = body.get("allowed_mentions") or {}
    for kind in ("users", "roles"):
        if kind in (mentions.get("parse") or []) and mentions.get(kind):
            form.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
    if "components" in body:
        for path, code, message in component_errors(body.get("components")):
            form.add(path, code, message)
    form.raise_if_any()
    has_body = any(body.get(k) for k in ("content", "embeds", "sticker_ids", "components", "poll"))
    if not editing and not has_body and attachments == 0:
        raise ApiError(400, 50006, "Cannot send an empty message")
