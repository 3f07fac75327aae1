"""Every message in the fake (users' and the bot's), with Discord's create/edit rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import payloads
from .records import EPHEMERAL, LOADING, BotMessage
from .validation import ApiError, not_found, validate_message
from .world import Channel, User, World

JSON = dict[str, Any]

UNKNOWN_MESSAGE = 10008
EDITABLE = ("content", "embeds", "allowed_mentions", "flags", "components")


@dataclass
class StoredMessage:
    payload: JSON  # the full message payload, as REST returns it
    channel: Channel
    author: User
    allowed_mentions: JSON | None = None
    interaction_id: int | None = None
    deleted: bool = False
    sent: JSON = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    def snapshot(self) -> BotMessage:
        p = self.payload
        return BotMessage(
            id=self.id,
            channel_id=self.channel.id,
            guild_id=self.channel.guild_id,
            author_id=self.author.id,
            content=p["content"],
            embeds=tuple(p["embeds"]),
            allowed_mentions=self.allowed_mentions,
            message_reference=p.get("message_reference"),
            flags=p["flags"],
            attachments=tuple(p["attachments"]),
            components=tuple(p["components"]),
            interaction_id=self.interaction_id,
            edited=p["edited_timestamp"] is not None,
            deleted=self.deleted,
            sent=self.sent,
        )


class MessageStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.by_id: dict[int, StoredMessage] = {}
        self.bot_log: list[BotMessage] = []  # every create/edit/delete by the bot, in order
        # Indexes so that hundreds of concurrent waiters stay cheap.
        self.replies: dict[int, list[StoredMessage]] = {}  # replied-to id -> bot replies
        self.by_channel: dict[int, list[StoredMessage]] = {}

    def get(self, message_id: int, channel_id: int | None = None) -> StoredMessage:
        stored = self.by_id.get(message_id)
        if stored is None or stored.deleted:
            raise not_found("Message", UNKNOWN_MESSAGE)
        if channel_id is not None and stored.channel.id != channel_id:
            raise not_found("Message", UNKNOWN_MESSAGE)
        return stored

    def _record(self, stored: StoredMessage) -> None:
        if stored.author.id == self.world.bot_user.id:
            self.bot_log.append(stored.snapshot())

    def _reference(self, channel: Channel, ref: JSON) -> tuple[JSON, StoredMessage | None]:
        raw_id = ref.get("message_id")
        target = self.by_id.get(int(raw_id)) if raw_id is not None else None
        if target is not None and target.deleted:
            target = None
        if target is None and ref.get("fail_if_not_exists", True):
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "message_reference": {
                        "_errors": [
                            {
                                "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                "message": "Unknown message",
                            }
                        ]
                    }
                },
            )
        normal: JSON = {"type": ref.get("type", 0), "channel_id": str(channel.id)}
        if raw_id is not None:
            normal["message_id"] = str(raw_id)
        if channel.guild_id is not None:
            normal["guild_id"] = str(channel.guild_id)
        return normal, target

    def create(
        self,
        channel: Channel,
        author: User,
        body: JSON,
        *,
        attachments: Sequence[JSON] = (),
        interaction_id: int | None = None,
        interaction_metadata: JSON | None = None,
        webhook_id: int | None = None,
        message_type: int | None = None,
        flags: int | None = None,
        placeholder: bool = False,
    ) -> StoredMessage:
        """Store a new message; ``placeholder`` skips validation (a deferral's empty message)."""
        if not placeholder:
            validate_message(body, attachments=len(attachments))
        allowed = body.get("allowed_mentions")
        reference: JSON | None = None
        referenced: StoredMessage | None = None
        extra_mentions: list[int] = []
        if body.get("message_reference"):
            reference, referenced = self._reference(channel, body["message_reference"])
            # A reply pings its target unless allowed_mentions says otherwise.
            if referenced is not None and (allowed is None or allowed.get("replied_user")):
                extra_mentions.append(referenced.author.id)
        payload = payloads.message_payload(
            self.world,
            message_id=self.world.new_id(),
            channel=channel,
            author=author,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            attachments=list(attachments),
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0) if flags is None else flags,
            message_reference=reference,
            referenced=referenced.payload if referenced is not None else None,
            extra_mentions=extra_mentions,
            message_type=message_type,
            webhook_id=webhook_id,
            interaction_metadata=interaction_metadata,
        )
        stored = StoredMessage(
            payload, channel, author, allowed, interaction_id=interaction_id, sent=body
        )
        self.by_id[stored.id] = stored
        self.by_channel.setdefault(channel.id, []).append(stored)
        if referenced is not None and author.id == self.world.bot_user.id:
            self.replies.setdefault(referenced.id, []).append(stored)
        self._record(stored)
        return stored

    def edit(
        self,
        stored: StoredMessage,
        body: JSON,
        *,
        attachments: Sequence[JSON] = (),
        settle_loading: bool = False,
    ) -> StoredMessage:
        """Apply an edit. ``settle_loading``: an interaction response's first edit replaces the
        "is thinking..." placeholder, which Discord does not show as an edit."""
        validate_message(body, editing=True)
        p = stored.payload
        replacing_placeholder = settle_loading and bool(p["flags"] & LOADING)
        ephemeral = p["flags"] & EPHEMERAL  # an edit cannot change who sees the message
        for key in EDITABLE:
            if key in body and key != "allowed_mentions":
                default: Any = "" if key == "content" else 0 if key == "flags" else []
                p[key] = body[key] if body[key] is not None else default
        p["flags"] |= ephemeral
        if "allowed_mentions" in body:
            stored.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body or attachments:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            p["attachments"] = [a for a in p["attachments"] if a["id"] in kept_ids] + list(
                attachments
            )
        users, roles, everyone = payloads.mentions_of(self.world, p["content"])
        p["mentions"] = [payloads.user_payload(self.world.users[u]) for u in users]
        p["mention_roles"] = [str(r) for r in roles]
        p["mention_everyone"] = everyone
        if replacing_placeholder:
            p["flags"] &= ~LOADING
        else:
            p["edited_timestamp"] = payloads.timestamp()
        stored.sent = body
        self._record(stored)
        return stored

    def delete(self, stored: StoredMessage) -> None:
        stored.deleted = True
        self._record(stored)

    def attachment(self, filename: str, size: int, content_type: str | None) -> JSON:
        attachment_id = self.world.new_id()
        url = f"https://cdn.localdiscord.invalid/attachments/{attachment_id}/{filename}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
