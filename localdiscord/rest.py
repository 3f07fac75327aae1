"""REST routes under ``/api/v10``: thin handlers over the server's state.

The middleware parses every body once (JSON or multipart with ``payload_json``), applies injected
faults, checks the bot token, turns ``ApiError`` into Discord's JSON errors and records each
request. Any route not listed answers 404 with the missing route named, and is recorded too, so a
test shows what the bot called that the fake lacks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads
from .records import RecordedRequest
from .validation import ApiError, not_found
from .world import Channel

if TYPE_CHECKING:
    from .server import LocalDiscord

JSON = dict[str, Any]
API = "/api/v10"
SERVER: web.AppKey[LocalDiscord] = web.AppKey("localdiscord")
BODY: web.RequestKey[Any] = web.RequestKey("localdiscord_body", object)
UPLOADS: web.RequestKey[list[Upload]] = web.RequestKey("localdiscord_uploads", list)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNKNOWN_CHANNEL, UNKNOWN_USER, UNKNOWN_APPLICATION, MISSING_ACCESS = 10003, 10013, 10002, 50001
CANNOT_ON_CHANNEL_TYPE, THREAD_EXISTS = 50024, 160004
THREAD_NAME_MAX = 100
HAS_THREAD = 1 << 5  # message flag: a thread was started from it


@dataclass(frozen=True)
class Upload:
    filename: str
    size: int
    content_type: str | None


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": discord.py compares the header for equality, and
    # web.json_response would append "; charset=utf-8".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def no_content() -> web.Response:
    return web.Response(status=204)


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        body: Any = json.loads(str(form.get("payload_json") or "{}"))
        uploads = [
            Upload(field.filename, len(field.file.read()), field.content_type)
            for name, field in form.items()
            if isinstance(field, web.FileField) and name != "payload_json"
        ]
        return body, uploads
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def _needs_auth(path: str) -> bool:
    # Interaction callbacks and interaction webhooks authenticate with the token in the URL.
    webhook_with_token = path.startswith("/webhooks/") and path.count("/") >= 3
    return not (path.startswith("/interactions/") or webhook_with_token)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API + "/"):
        return await handler(request)
    server = request.app[SERVER]
    path = request.path[len(API) :]
    body, uploads = await _read_body(request)
    request[BODY], request[UPLOADS] = body, uploads
    injected = False
    fault = server.faults.take(request.method, path)
    try:
        if fault is not None:
            injected = True
            status, error, headers = fault.response()
            response: web.StreamResponse = json_response(error, status, headers)
        elif _needs_auth(path) and request.headers.get("Authorization") != f"Bot {server.token}":
            response = json_response({"message": "401: Unauthorized", "code": 0}, 401)
        else:
            response = await handler(request)
    except ApiError as exc:
        response = json_response(exc.body(), exc.status)
    server.requests.append(
        RecordedRequest(
            request.method,
            path,
            dict(request.query),
            body,
            response.status,
            injected=injected,
            files=tuple(u.filename for u in uploads),
        )
    )
    server.changes.changed()
    return response


# -- helpers ------------------------------------------------------------------------------------


def _server(request: web.Request) -> LocalDiscord:
    return request.app[SERVER]


def _int(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise ApiError(400, 50035, f"Invalid Form Body: {key} is not a snowflake") from None


def _body(request: web.Request) -> JSON:
    body = request[BODY]
    return body if isinstance(body, dict) else {}


def _attachments(request: web.Request) -> list[JSON]:
    store = _server(request).messages
    uploads = request[UPLOADS]
    return [store.attachment(u.filename, u.size, u.content_type) for u in uploads]


def _channel(request: web.Request) -> Channel:
    channel = _server(request).world.channels.get(_int(request, "channel_id"))
    if channel is None:
        raise not_found("Channel", UNKNOWN_CHANNEL)
    return channel


def _check_application(request: web.Request) -> None:
    if _int(request, "application_id") != _server(request).world.bot_user.id:
        raise not_found("Application", UNKNOWN_APPLICATION)


def _guild_scope(request: web.Request) -> int | None:
    if "guild_id" not in request.match_info:
        return None
    guild_id = _int(request, "guild_id")
    if guild_id not in _server(request).world.guilds:
        raise ApiError(403, MISSING_ACCESS, "Missing Access")
    return guild_id


# -- login and gateway ----------------------------------------------------------------------------


async def get_me(request: web.Request) -> web.Response:
    return json_response(payloads.client_user_payload(_server(request).world.bot_user))


async def get_application(request: web.Request) -> web.Response:
    return json_response(payloads.application_payload(_server(request).world))


async def get_gateway(request: web.Request) -> web.Response:
    server = _server(request)
    url = server.gateway_url
    if request.path.endswith("/bot"):
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        shards = server.gateway.shard_count  # what Discord recommends for this bot
        return json_response({"url": url, "shards": shards, "session_start_limit": limit})
    return json_response({"url": url})


async def get_user(request: web.Request) -> web.Response:
    user = _server(request).world.users.get(_int(request, "user_id"))
    if user is None:
        raise not_found("User", UNKNOWN_USER)
    return json_response(payloads.user_payload(user))


async def get_member(request: web.Request) -> web.Response:
    member = _server(request).world.member_in(_int(request, "user_id"), _guild_scope(request))
    if member is None:
        raise ApiError(404, 10007, "Unknown Member")
    return json_response(payloads.member_payload(member))


async def create_dm(request: web.Request) -> web.Response:
    world = _server(request).world
    user = world.users.get(int(_body(request).get("recipient_id") or 0))
    if user is None:
        raise not_found("User", UNKNOWN_USER)
    return json_response(payloads.channel_payload(world, world.dm_channel(user)))


# -- application commands -------------------------------------------------------------------


async def put_commands(request: web.Request) -> web.Response:
    _check_application(request)
    items = request[BODY] if isinstance(request[BODY], list) else []
    return json_response(_server(request).commands.overwrite(_guild_scope(request), items))


async def get_commands(request: web.Request) -> web.Response:
    _check_application(request)
    return json_response(_server(request).commands.listed(_guild_scope(request)))


# -- channels and messages --------------------------------------------------------------------


async def get_channel(request: web.Request) -> web.Response:
    return json_response(payloads.channel_payload(_server(request).world, _channel(request)))


async def post_message(request: web.Request) -> web.Response:
    server = _server(request)
    channel = _channel(request)
    stored = server.messages.create(
        channel, server.world.bot_user, _body(request), attachments=_attachments(request)
    )
    await server.publish("MESSAGE_CREATE", stored)
    return json_response(stored.payload)


async def get_message(request: web.Request) -> web.Response:
    stored = _server(request).messages.get(_int(request, "message_id"), _channel(request).id)
    return json_response(stored.payload)


async def patch_message(request: web.Request) -> web.Response:
    server = _server(request)
    stored = server.messages.get(_int(request, "message_id"), _channel(request).id)
    if stored.author.id != server.world.bot_user.id:
        raise ApiError(403, 50005, "Cannot edit a message authored by another user")
    server.messages.edit(stored, _body(request), attachments=_attachments(request))
    await server.publish("MESSAGE_UPDATE", stored)
    return json_response(stored.payload)


async def delete_message(request: web.Request) -> web.Response:
    server = _server(request)
    stored = server.messages.get(_int(request, "message_id"), _channel(request).id)
    server.messages.delete(stored)
    await server.publish("MESSAGE_DELETE", stored)
    return no_content()


async def start_thread(request: web.Request) -> web.Response:
    """A public thread on a message, named by the body; it takes the message's id."""
    server = _server(request)
    channel = _channel(request)
    stored = server.messages.get(_int(request, "message_id"), channel.id)
    if channel.kind != "text":
        raise ApiError(400, CANNOT_ON_CHANNEL_TYPE, "Cannot execute action on this channel type")
    if stored.id in server.world.channels:
        raise ApiError(400, THREAD_EXISTS, "A thread has already been created for this message")
    name = _body(request).get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= THREAD_NAME_MAX:
        raise ApiError(
            400,
            50035,
            "Invalid Form Body",
            {
                "name": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_BAD_LENGTH",
                            "message": "Must be between 1 and 100 in length.",
                        }
                    ]
                }
            },
        )
    thread = await server.create_thread(
        name, channel, owner=server.world.bot_user, thread_id=stored.id
    )
    stored.payload["flags"] |= HAS_THREAD
    return json_response(payloads.thread_payload(server.world, thread))


async def typing_or_reaction(request: web.Request) -> web.Response:
    _channel(request)
    return no_content()


# -- interactions ---------------------------------------------------------------------------------


async def interaction_callback(request: web.Request) -> web.Response:
    book = _server(request).interactions
    answer = await book.callback(
        _int(request, "interaction_id"),
        request.match_info["token"],
        _body(request),
        _attachments(request),
    )
    if request.query.get("with_response") in ("1", "true", "True"):
        return json_response(answer)
    return no_content()


async def webhook_execute(request: web.Request) -> web.Response:
    _check_application(request)
    book = _server(request).interactions
    message = await book.followup(
        request.match_info["token"], _body(request), _attachments(request)
    )
    if request.query.get("wait") in ("0", "false", "False"):
        return no_content()
    return json_response(message)


async def webhook_message(request: web.Request) -> web.Response:
    _check_application(request)
    book = _server(request).interactions
    token, target = request.match_info["token"], request.match_info["message_id"]
    original = target == "@original"
    message_id = 0 if original else _int(request, "message_id")
    if request.method == "GET":
        data = book.get_original(token) if original else book.get_followup(token, message_id)
        return json_response(data)
    if request.method == "PATCH":
        body, files = _body(request), _attachments(request)
        if original:
            return json_response(await book.edit_original(token, body, files))
        return json_response(await book.edit_followup(token, message_id, body, files))
    if original:
        await book.delete_original(token)
    else:
        await book.delete_followup(token, message_id)
    return no_content()


async def unknown_route(request: web.Request) -> web.Response:
    path = request.path[len(API) :]
    raise ApiError(
        404, 0, f"404: Not Found (localdiscord has no route for {request.method} {path})"
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(API + "/users/@me", get_me)
    r.add_post(API + "/users/@me/channels", create_dm)
    r.add_get(API + "/users/{user_id}", get_user)
    r.add_get(API + "/oauth2/applications/@me", get_application)
    r.add_get(API + "/applications/@me", get_application)
    r.add_get(API + "/gateway", get_gateway)
    r.add_get(API + "/gateway/bot", get_gateway)
    for scope in ("", "/guilds/{guild_id}"):
        r.add_put(API + "/applications/{application_id}" + scope + "/commands", put_commands)
        r.add_get(API + "/applications/{application_id}" + scope + "/commands", get_commands)
    r.add_get(API + "/guilds/{guild_id}/members/{user_id}", get_member)
    r.add_get(API + "/channels/{channel_id}", get_channel)
    r.add_post(API + "/channels/{channel_id}/messages", post_message)
    message = API + "/channels/{channel_id}/messages/{message_id}"
    r.add_get(message, get_message)
    r.add_patch(message, patch_message)
    r.add_delete(message, delete_message)
    r.add_post(message + "/threads", start_thread)
    r.add_post(API + "/channels/{channel_id}/typing", typing_or_reaction)
    r.add_route("*", message + "/reactions/{emoji}/@me", typing_or_reaction)
    r.add_post(API + "/interactions/{interaction_id}/{token}/callback", interaction_callback)
    r.add_post(API + "/webhooks/{application_id}/{token}", webhook_execute)
    webhook_message_path = API + "/webhooks/{application_id}/{token}/messages/{message_id}"
    r.add_get(webhook_message_path, webhook_message)
    r.add_patch(webhook_message_path, webhook_message)
    r.add_delete(webhook_message_path, webhook_message)
    r.add_route("*", API + "/{tail:.*}", unknown_route)
