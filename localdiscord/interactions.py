"""Interactions the fake created, and the bot's answers to them: the callback, edits of
``@original``, follow-ups. Applies Discord's rules: one callback, within the ack deadline
(3 s on Discord), and the "is thinking..." placeholder of a deferral is replaced on first edit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import payloads
from .components import APPLICATION_COMMAND
from .messages import UNKNOWN_MESSAGE, StoredMessage
from .records import (
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_UPDATE,
    EPHEMERAL,
    LOADING,
    ActionKind,
    InteractionAction,
    InteractionResult,
)
from .validation import ApiError, not_found
from .world import Channel, User

if TYPE_CHECKING:
    from .server import LocalDiscord

JSON = dict[str, Any]

UNKNOWN_INTERACTION, UNKNOWN_WEBHOOK, ALREADY_ACKNOWLEDGED = 10062, 10015, 40060


@dataclass
class PendingInteraction:
    id: int
    token: str
    command: str
    user: User
    channel: Channel
    created: float  # loop time
    deadline: float
    callback_type: int | None = None
    kind: int = APPLICATION_COMMAND
    clicked: StoredMessage | None = None  # the message whose button was clicked
    acknowledged_late: bool = False
    original: StoredMessage | None = None
    followups: dict[int, StoredMessage] = field(default_factory=dict)
    actions: list[InteractionAction] = field(default_factory=list)

    def expired(self, now: float) -> bool:
        return self.acknowledged_late or (self.callback_type is None and now > self.deadline)

    def result(self, now: float) -> InteractionResult:
        return InteractionResult(
            interaction_id=self.id,
            command=self.command,
            actions=tuple(self.actions),
            original=self.original.snapshot() if self.original is not None else None,
            expired=self.expired(now),
        )


class InteractionBook:
    def __init__(self, server: LocalDiscord) -> None:
        self.server = server
        self.by_id: dict[int, PendingInteraction] = {}
        self.by_token: dict[str, PendingInteraction] = {}

    def add(self, pending: PendingInteraction) -> None:
        self.by_id[pending.id] = pending
        self.by_token[pending.token] = pending

    def _record(
        self,
        pending: PendingInteraction,
        kind: ActionKind,
        body: JSON | None,
        stored: StoredMessage | None,
        callback_type: int | None = None,
    ) -> None:
        message = stored.snapshot() if stored is not None else None
        pending.actions.append(InteractionAction(kind, body, message, callback_type))
        self.server.changes.changed()

    def _by_token(self, token: str) -> PendingInteraction:
        pending = self.by_token.get(token)
        if pending is None or pending.callback_type is None:
            # Discord accepts webhook calls on an interaction token only once it is acknowledged.
            raise not_found("Webhook", UNKNOWN_WEBHOOK)
        return pending

    def _response_message(
        self,
        pending: PendingInteraction,
        body: JSON,
        files: list[JSON],
        *,
        flags: int,
        placeholder: bool = False,
    ) -> StoredMessage:
        world = self.server.world
        metadata = {
            "id": str(pending.id),
            "type": pending.kind,
            "user": payloads.user_payload(pending.user),
            "authorizing_integration_owners": {"0": str(pending.channel.guild_id or 0)},
            "name": pending.command,
        }
        return self.server.messages.create(
            pending.channel,
            world.bot_user,
            body,
            attachments=files,
            interaction_id=pending.id,
            interaction_metadata=metadata,
            webhook_id=world.bot_user.id,
            message_type=payloads.MESSAGE_TYPE_CHAT_INPUT_COMMAND
            if pending.kind == APPLICATION_COMMAND
            else payloads.MESSAGE_TYPE_REPLY,
            flags=flags,
            placeholder=placeholder,
        )

    async def callback(
        self, interaction_id: int, token: str, body: JSON, files: list[JSON]
    ) -> JSON:
        pending = self.by_id.get(interaction_id)
        if pending is None or pending.token != token:
            raise not_found("interaction", UNKNOWN_INTERACTION)
        if pending.callback_type is not None:
            raise ApiError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() > pending.deadline:
            pending.acknowledged_late = True
            self.server.changes.changed()
            raise not_found("interaction", UNKNOWN_INTERACTION)
        kind = int(body.get("type", 0))
        data: JSON = body.get("data") or {}
        ephemeral = int(data.get("flags") or 0) & EPHEMERAL
        if kind in (CALLBACK_UPDATE, CALLBACK_DEFERRED_UPDATE) and pending.clicked is None:
            raise ApiError(400, 40043, "Interaction response type is not valid here")
        if kind == CALLBACK_UPDATE and pending.clicked is not None:
            self.server.messages.edit(pending.clicked, data)  # before acknowledging: may fail
        pending.callback_type = kind
        stored: StoredMessage | None = None
        if kind == CALLBACK_MESSAGE:
            flags = int(data.get("flags") or 0)
            stored = self._response_message(pending, data, files, flags=flags)
        elif kind == CALLBACK_DEFERRED_MESSAGE:
            stored = self._response_message(
                pending, {}, [], flags=LOADING | ephemeral, placeholder=True
            )
        elif kind in (CALLBACK_UPDATE, CALLBACK_DEFERRED_UPDATE):
            stored = pending.clicked  # edits of @original now edit the clicked message
        pending.original = stored
        self._record(pending, "callback", body, stored, callback_type=kind)
        if kind == CALLBACK_UPDATE and stored is not None:
            await self.server.publish("MESSAGE_UPDATE", stored)
        elif stored is not None and kind != CALLBACK_DEFERRED_UPDATE:
            await self.server.publish("MESSAGE_CREATE", stored)
        answer: JSON = {
            "interaction": {
                "id": str(pending.id),
                "type": pending.kind,
                "response_message_loading": kind == CALLBACK_DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(ephemeral),
            },
            "resource": {"type": kind},
        }
        if stored is not None:
            answer["interaction"]["response_message_id"] = str(stored.id)
            answer["resource"]["message"] = stored.payload
        return answer

    def _replace(self, stored: StoredMessage, body: JSON, files: list[JSON]) -> StoredMessage:
        return self.server.messages.edit(stored, body, attachments=files, settle_loading=True)

    def _original(self, token: str) -> tuple[PendingInteraction, StoredMessage]:
        pending = self._by_token(token)
        if pending.original is None or pending.original.deleted:
            raise not_found("Message", UNKNOWN_MESSAGE)
        return pending, pending.original

    def get_original(self, token: str) -> JSON:
        return self._original(token)[1].payload

    async def edit_original(self, token: str, body: JSON, files: list[JSON]) -> JSON:
        pending, stored = self._original(token)
        self._replace(stored, body, files)
        self._record(pending, "edit_original", body, stored)
        await self.server.publish("MESSAGE_UPDATE", stored)
        return stored.payload

    async def delete_original(self, token: str) -> None:
        pending, stored = self._original(token)
        self.server.messages.delete(stored)
        self._record(pending, "delete_original", None, stored)
        await self.server.publish("MESSAGE_DELETE", stored)

    async def followup(self, token: str, body: JSON, files: list[JSON]) -> JSON:
        pending = self._by_token(token)
        flags = int(body.get("flags") or 0)
        if (
            pending.callback_type == CALLBACK_DEFERRED_MESSAGE
            and pending.original is not None
            and pending.original.payload["flags"] & LOADING
        ):
            # Discord: the first follow-up after a deferral replaces the placeholder.
            stored = self._replace(pending.original, body, files)
            stored.payload["flags"] = flags | (stored.payload["flags"] & EPHEMERAL)
            pending.followups[stored.id] = stored
            self._record(pending, "followup", body, stored)
            await self.server.publish("MESSAGE_UPDATE", stored)
            return stored.payload
        stored = self._response_message(pending, body, files, flags=flags)
        pending.followups[stored.id] = stored
        self._record(pending, "followup", body, stored)
        await self.server.publish("MESSAGE_CREATE", stored)
        return stored.payload

    def _followup(self, token: str, message_id: int) -> tuple[PendingInteraction, StoredMessage]:
        pending = self._by_token(token)
        stored = pending.followups.get(message_id)
        if stored is None and pending.original is not None and pending.original.id == message_id:
            stored = pending.original
        if stored is None or stored.deleted:
            raise not_found("Message", UNKNOWN_MESSAGE)
        return pending, stored

    def get_followup(self, token: str, message_id: int) -> JSON:
        return self._followup(token, message_id)[1].payload

    async def edit_followup(
        self, token: str, message_id: int, body: JSON, files: list[JSON]
    ) -> JSON:
        pending, stored = self._followup(token, message_id)
        self.server.messages.edit(stored, body, attachments=files)
        self._record(pending, "edit_followup", body, stored)
        await self.server.publish("MESSAGE_UPDATE", stored)
        return stored.payload

    async def delete_followup(self, token: str, message_id: int) -> None:
        pending, stored = self._followup(token, message_id)
        self.server.messages.delete(stored)
        self._record(pending, "delete_followup", None, stored)
        await self.server.publish("MESSAGE_DELETE", stored)
