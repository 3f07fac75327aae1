"""What the fake saw the bot do, as typed snapshots, and a way to await it without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Interaction callback types (discord.InteractionResponseType values).
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
# For clicks on a message's components only: acknowledge (edit later), or edit the message now.
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE = 7


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request to the fake; ``path`` is relative to ``/api/v10``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int
    injected: bool = False  # answered by a fault from ``fail_next``
    files: tuple[str, ...] = ()  # uploaded file names (multipart requests)


@dataclass(frozen=True)
class BotMessage:
    """A message the bot created or edited, in its state right after that action."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str
    embeds: tuple[JSON, ...]
    allowed_mentions: JSON | None
    message_reference: JSON | None
    flags: int
    attachments: tuple[JSON, ...] = ()
    components: tuple[JSON, ...] = ()
    interaction_id: int | None = None
    edited: bool = False
    deleted: bool = False
    sent: JSON = field(default_factory=dict)  # the JSON body of the request that made this state

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred interaction's "is thinking..." placeholder."""
        return bool(self.flags & LOADING)

    @property
    def reply_to(self) -> int | None:
        ref = self.message_reference
        if ref is None or ref.get("message_id") is None:
            return None
        return int(ref["message_id"])


ActionKind = Literal[
    "callback", "edit_original", "delete_original", "followup", "edit_followup", "delete_followup"
]


@dataclass(frozen=True)
class InteractionAction:
    kind: ActionKind
    json: JSON | None  # the body the bot sent
    message: BotMessage | None  # the resulting message, if the action made or changed one
    callback_type: int | None = None  # for kind == "callback"


@dataclass(frozen=True)
class InteractionResult:
    """Everything the bot did in answer to one interaction, in order."""

    interaction_id: int
    command: str  # for a click, the button's custom_id
    actions: tuple[InteractionAction, ...]
    original: BotMessage | None  # the original response's current state
    expired: bool  # the bot did not acknowledge within the deadline (Discord shows an error)

    @property
    def callback_types(self) -> list[int]:
        return [a.callback_type for a in self.actions if a.callback_type is not None]

    @property
    def deferred(self) -> bool:
        return CALLBACK_DEFERRED_MESSAGE in self.callback_types

    @property
    def original_edits(self) -> list[BotMessage]:
        return [a.message for a in self.actions if a.kind == "edit_original" and a.message]

    @property
    def followups(self) -> list[BotMessage]:
        return [a.message for a in self.actions if a.kind == "followup" and a.message]

    @property
    def answered(self) -> bool:
        """A user can see an answer: a message response, an edited defer, or a follow-up; for a
        click, also an update of the clicked message (or its acknowledgement)."""
        if {CALLBACK_MESSAGE, CALLBACK_UPDATE, CALLBACK_DEFERRED_UPDATE} & set(self.callback_types):
            return True
        return self.deferred and any(a.kind in ("edit_original", "followup") for a in self.actions)

    @property
    def messages(self) -> list[BotMessage]:
        """What the user sees now: the original response, then follow-ups, each in its final
        state (a follow-up that replaced a deferral's placeholder is the original)."""
        latest: dict[int, BotMessage] = {}
        if self.original is not None:
            latest[self.original.id] = self.original
        for message in self.followups:
            latest[message.id] = message
        for action in self.actions:
            if action.kind in ("edit_followup", "delete_followup") and action.message:
                latest[action.message.id] = action.message
        if self.original is not None:
            latest[self.original.id] = self.original
        return [m for m in latest.values() if not m.deleted]


class Changes:
    """A change counter that coroutines can await; the server calls ``changed()`` after every
    recorded action, and waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def changed(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self, check: Callable[[], T | None], *, timeout: float, describe: Callable[[], str]
    ) -> T:
        """Return ``check()``'s first non-None value; raise ``TimeoutError`` naming what is
        missing (``describe()``) after ``timeout`` seconds."""

        async def poll() -> T:
            while True:
                event = self._event
                value = check()
                if value is not None:
                    return value
                await event.wait()

        try:
            return await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise TimeoutError(f"after {timeout:g}s: {describe()}") from None
