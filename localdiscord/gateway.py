"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, dispatch.

Frames are plain JSON text. discord.py asks for ``compress=zlib-stream`` but only inflates binary
frames, so uncompressed text frames work. One session per shard is tracked; dispatches are
numbered and kept, so a RESUME after op 7 (or a dropped socket) replays exactly what the bot
missed, then sends RESUMED, as Discord does.

Sharding as on Discord: IDENTIFY may carry ``shard: [shard_id, shard_count]``; a shard receives
the events of the guilds with ``(guild_id >> 22) % shard_count == shard_id``, and shard 0 also
receives DMs. With ``shard_count`` above 1 (what ``/gateway/bot`` recommends), an unsharded
IDENTIFY is closed with 4011, as Discord does for a bot that must shard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from . import payloads
from .errors import LocalDiscordError
from .records import Changes
from .world import World

JSON = dict[str, Any]
log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE = 0, 1, 2, 3
OP_RESUME, OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION = 6, 7, 8, 9
OP_HELLO, OP_HEARTBEAT_ACK = 10, 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

CLOSE_UNKNOWN_OPCODE, CLOSE_DECODE_ERROR, CLOSE_NOT_AUTHENTICATED = 4001, 4002, 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_INVALID_SHARD, CLOSE_SHARDING_REQUIRED = 4010, 4011
BACKLOG = 10_000


@dataclass
class ConnectionRecord:
    """One websocket the bot opened; ``path`` shows whether it used ``resume_gateway_url``."""

    path: str
    opened_with: Literal["pending", "identify", "resume", "refused"] = "pending"
    replayed: int = 0  # dispatches replayed on RESUME
    shard: tuple[int, int] | None = None  # (shard_id, shard_count) once identified or resumed


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    record: ConnectionRecord
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: JSON | str) -> bool:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
            return True


@dataclass
class _Session:
    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    backlog: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    conn: _Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def receives(self, guild_id: int | None) -> bool:
        """Whether this shard gets the events of ``guild_id`` (None: a DM, for shard 0)."""
        shard_id, shard_count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % shard_count == shard_id

    async def dispatch(self, event: str, data: Any) -> None:
        """Number, keep and (if connected) send one event. Caller holds ``lock``."""
        self.seq += 1
        text = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
        self.backlog.append((self.seq, text))
        if self.conn is not None and not await self.conn.send(text):
            self.conn = None  # kept in the backlog; a RESUME replays it


class Gateway:
    def __init__(
        self,
        world: World,
        changes: Changes,
        *,
        token: str,
        heartbeat_interval: float,
        shard_count: int = 1,
    ) -> None:
        self.world = world
        self.changes = changes
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.shard_count = shard_count
        self.resume_url = ""  # set by the server once its port is known
        self.connections: list[ConnectionRecord] = []
        self.identifies = 0
        self.resumes = 0
        self._sessions: dict[tuple[int, int], _Session] = {}
        self._open: set[_Connection] = set()

    # -- for the server and tests -----------------------------------------------------------

    @property
    def intents(self) -> int | None:
        """The identified bot's intents (its first shard's), or None before IDENTIFY."""
        session = next(iter(self._sessions.values()), None)
        return None if session is None else session.intents

    def has_intent(self, bit: int) -> bool:
        intents = self.intents
        return intents is not None and bool(intents & bit)

    def connected_shards(self) -> list[tuple[int, int]]:
        """The ``(shard_id, shard_count)`` of each session with an open socket, sorted."""
        return sorted(key for key, s in self._sessions.items() if s.conn is not None)

    async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> None:
        """Send an event to the shard of its guild (``guild_id``, else ``data["guild_id"]``;
        none: a DM, for shard 0); dropped if that shard has not identified."""
        if guild_id is None and isinstance(data, dict) and data.get("guild_id"):
            guild_id = int(data["guild_id"])
        for session in list(self._sessions.values()):
            if session.receives(guild_id):
                async with session.lock:
                    await session.dispatch(event, data)

    def _connected(self, shard_id: int) -> _Session:
        for session in self._sessions.values():
            if session.shard[0] == shard_id and session.conn is not None:
                return session
        raise LocalDiscordError(f"no bot is connected to the gateway as shard {shard_id} now")

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Send op 7 RECONNECT; the bot closes and RESUMEs on ``resume_gateway_url``."""
        session = self._connected(shard_id)
        async with session.lock:
            conn, session.conn = session.conn, None  # later events wait in the backlog
            if conn is not None:
                await conn.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def drop_connection(self, code: int = 4000, shard_id: int = 0) -> None:
        """Close the bot's socket with ``code`` (4000: resumable), as a network fault would."""
        session = self._connected(shard_id)
        async with session.lock:
            conn, session.conn = session.conn, None
        if conn is not None:
            await conn.ws.close(code=code, message=b"localdiscord: dropped")

    async def close_all(self) -> None:
        for conn in list(self._open):
            await conn.ws.close(code=1001, message=b"localdiscord: shutting down")

    # -- the websocket ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, ConnectionRecord(request.path))
        self.connections.append(conn.record)
        self._open.add(conn)
        try:
            await conn.send(
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval * 1000},
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    break
                try:
                    frame = json.loads(msg.data)
                except json.JSONDecodeError:
                    await ws.close(
                        code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload."
                    )
                    break
                await self._on_frame(conn, frame)
        finally:
            self._open.discard(conn)
            for session in self._sessions.values():
                if session.conn is conn:
                    session.conn = None
            self.changes.changed()
        return ws

    async def _on_frame(self, conn: _Connection, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == OP_HEARTBEAT:
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif op == OP_REQUEST_MEMBERS:
            await self._send_members(data or {})
        elif op == OP_PRESENCE or op in (4, 5):  # presence and voice: accepted, ignored
            return
        else:
            await conn.ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode.")

    async def _identify(self, conn: _Connection, data: JSON) -> None:
        if data.get("token") != self.token:
            conn.record.opened_with = "refused"
            await conn.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = await self._check_shard(conn, data.get("shard"))
        if shard is None:
            return
        session = _Session(
            secrets.token_hex(16), int(data.get("intents") or 0), shard=shard, conn=conn
        )
        self._sessions[shard] = session  # a new IDENTIFY for a shard replaces its session
        conn.record.opened_with = "identify"
        conn.record.shard = shard
        guild_ids = [g for g in self.world.guilds if session.receives(g)]
        async with session.lock:
            await session.dispatch(
                "READY",
                payloads.ready_payload(
                    self.world,
                    session_id=session.session_id,
                    resume_url=self.resume_url,
                    guild_ids=guild_ids,
                    shard=shard,
                ),
            )
            all_members = bool(session.intents & INTENT_GUILD_MEMBERS)
            for guild_id in guild_ids:
                await session.dispatch(
                    "GUILD_CREATE",
                    payloads.guild_payload(self.world, all_members=all_members, guild_id=guild_id),
                )
        self.identifies += 1
        self.changes.changed()

    async def _check_shard(self, conn: _Connection, shard: Any) -> tuple[int, int] | None:
        """IDENTIFY's ``shard``, or None once the socket is closed for a bad or missing one."""
        try:
            shard_id, shard_count = (0, 1) if shard is None else (int(shard[0]), int(shard[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            shard_id, shard_count = -1, 0
        if not 0 <= shard_id < shard_count:
            conn.record.opened_with = "refused"
            await conn.ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return None
        if shard_count == 1 and self.shard_count > 1:
            conn.record.opened_with = "refused"
            await conn.ws.close(code=CLOSE_SHARDING_REQUIRED, message=b"Sharding required.")
            return None
        return shard_id, shard_count

    async def _resume(self, conn: _Connection, data: JSON) -> None:
        session = next(
            (s for s in self._sessions.values() if s.session_id == data.get("session_id")), None
        )
        valid = session is not None and data.get("token") == self.token
        if session is None or not valid:
            conn.record.opened_with = "refused"
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        seen = int(data.get("seq") or 0)
        async with session.lock:
            missed = [text for seq, text in session.backlog if seq > seen]
            for text in missed:
                await conn.send(text)
            session.conn = conn
            await session.dispatch("RESUMED", {"_trace": ["localdiscord"]})  # must be an object
        conn.record.opened_with = "resume"
        conn.record.shard = session.shard
        conn.record.replayed = len(missed)
        self.resumes += 1
        self.changes.changed()

    async def _send_members(self, data: JSON) -> None:
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}

        def wanted_member(user_id: int, name: str) -> bool:
            return user_id in wanted if wanted else name.lower().startswith(query)

        guild_id = int(data.get("guild_id") or self.world.guild_id)
        members = [
            member
            for m in self.world.members.values()
            if wanted_member(m.user.id, m.user.name)
            and (member := self.world.member_in(m.user.id, guild_id)) is not None
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild_id),
            "members": [payloads.member_payload(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)
