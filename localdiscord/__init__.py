"""A local fake Discord (REST + gateway + interactions on 127.0.0.1) that runs an unmodified
discord.py bot, for tests and for ``citebot chat``. Built against discord.py 2.7's payloads.

    async with LocalDiscord() as fake:
        async with fake.running(lambda: MyBot(**fake.client_options)) as session:
            answer = await (await session.send_message("hi", mention_bot=True)).wait_messages()
            run = await session.invoke("ask", {"question": "..."}, user=session.users.mod)
            result = await run.wait_done()
            thread = await fake.create_thread("questions", fake.channels.news)  # type 11
            await session.send_message("...", channel=thread)
            file = session.upload("story.txt", b"...")  # an attachment option's value
            await session.invoke("add", {"file": file})

    async with LocalDiscord(shard_count=2) as fake:   # /gateway/bot recommends 2 shards
        await fake.add_guild("Server 2", ("general-2",), shard=(1, 2))   # routed to shard 1
        async with fake.running(lambda: MyAutoShardedBot(shard_ids=[1], shard_count=2)): ...
"""

from .errors import BotNotReady, InteractionFailed, InvocationError, LocalDiscordError
from .faults import Fault
from .gateway import ConnectionRecord
from .harness import BotSession, Exchange, Invocation, UserMessage
from .records import BotMessage, InteractionAction, InteractionResult, RecordedRequest
from .render import render_embed, render_message, render_result
from .server import LocalDiscord
from .uploads import UserFile
from .world import Channel, Guild, Role, User

__all__ = [
    "BotMessage",
    "BotNotReady",
    "BotSession",
    "Channel",
    "ConnectionRecord",
    "Exchange",
    "Fault",
    "Guild",
    "InteractionAction",
    "InteractionFailed",
    "InteractionResult",
    "Invocation",
    "InvocationError",
    "LocalDiscord",
    "LocalDiscordError",
    "RecordedRequest",
    "Role",
    "User",
    "UserFile",
    "UserMessage",
    "render_embed",
    "render_message",
    "render_result",
]
