"""/add a link or a file to the articles, /remove one: indexed at once, for admins (or anyone
who may add, when CITEBOT_ANYONE_MAY_ADD is on)."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.additions import (
    ADD_DENIED,
    ADD_GUILD_ONLY,
    ADD_WHAT,
    BUSY,
    REMOVE_DENIED,
    added_reply,
    failed,
    fetch_limits,
    may_add,
    removed_reply,
)
from bot.client import NO_PINGS, CitebotBot
from bot.collections import Collection, place_of
from bot.formatting import Reply
from bot.permissions import interaction_may_reindex
from retrieval import ArticleError, ReindexInProgress
from retrieval.adding import add_incoming, already_there, remove_article
from retrieval.errors import AlreadyAdded, FetchError
from retrieval.ingest.fetch import fetch
from retrieval.ingest.incoming import Incoming, from_page, from_upload


class Add(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    async def _refuse(self, interaction: discord.Interaction[CitebotBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="add")
    @app_commands.guild_only()
    @app_commands.describe(
        url="A link to a news article (http or https)",
        file="A file: .txt, .md, .html, .json, .jsonl or .pdf",
    )
    async def add(
        self,
        interaction: discord.Interaction[CitebotBot],
        url: app_commands.Range[str, 1, 2000] | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        """Add a news article from a link or a file; it is answered from at once."""
        user = interaction.user
        roles = user.roles if isinstance(user, discord.Member) else []
        refusal = None
        if interaction.guild_id is None:
            refusal = ADD_GUILD_ONLY
        elif not may_add(interaction.permissions, roles, self.bot.settings):
            refusal = ADD_DENIED
        elif (url is None) == (file is None):
            refusal = ADD_WHAT
        elif self.bot.collections.busy(place_of(interaction)):
            refusal = BUSY
        if refusal is not None:
            await self._refuse(interaction, refusal)
            return
        # Deferred before the collection opens (a large index may take a while) and the fetch.
        await interaction.response.defer(thinking=True)
        async with self.bot.collections.use(place_of(interaction)) as collection:
            assert collection is not None  # every server channel has a collection
            reply = await self._add(collection, url, file)
        await interaction.edit_original_response(
            content=reply.content, embed=reply.embed, allowed_mentions=NO_PINGS
        )

    async def _add(
        self, collection: Collection, url: str | None, file: discord.Attachment | None
    ) -> Reply:
        try:
            incoming = await self._incoming(collection, url, file)
            if collection.lock.locked():
                raise ReindexInProgress(BUSY)  # nothing was written
            async with collection.lock:
                report = await asyncio.to_thread(
                    add_incoming,
                    collection.engine,
                    incoming,
                    max_shrink=self.bot.settings.max_shrink,
                )
        except Exception as exc:
            return Reply(content=failed("added", exc))
        return added_reply(report)

    async def _incoming(
        self, collection: Collection, url: str | None, file: discord.Attachment | None
    ) -> Incoming:
        settings = self.bot.settings
        engine = collection.engine
        if url is not None:
            known = await asyncio.to_thread(already_there, engine, url=url.strip())
            if known:
                raise AlreadyAdded(known)  # no need to fetch it
            page = await fetch(url, fetch_limits(settings))
            return await asyncio.to_thread(from_page, page)
        assert file is not None
        if file.size > settings.max_file_bytes:
            raise ArticleError(
                f"{file.filename} is {file.size:,} bytes, over the limit of "
                f"{settings.max_file_bytes:,} bytes (CITEBOT_MAX_FILE_BYTES)."
            )
        try:
            async with asyncio.timeout(settings.fetch_timeout):
                data = await file.read()
        except TimeoutError:
            raise FetchError(
                f"Downloading {file.filename} from Discord took longer than "
                f"{settings.fetch_timeout:g} s (CITEBOT_FETCH_TIMEOUT)."
            ) from None
        except discord.HTTPException as exc:
            raise FetchError(
                f"Cannot download {file.filename} from Discord ({exc.status}); attach it again."
            ) from None
        if len(data) > settings.max_file_bytes:  # the size Discord stated was not the size
            raise ArticleError(
                f"{file.filename} is over the limit of {settings.max_file_bytes:,} bytes "
                "(CITEBOT_MAX_FILE_BYTES)."
            )
        return await asyncio.to_thread(from_upload, file.filename, data)

    @app_commands.command(name="remove")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(article="The article's id (as /sources shows it) or its link")
    async def remove(
        self,
        interaction: discord.Interaction[CitebotBot],
        article: app_commands.Range[str, 1, 2000],
    ) -> None:
        """Remove an article from the articles and the index (Manage Server or the admin role)."""
        refusal = None
        if interaction.guild_id is None:
            refusal = ADD_GUILD_ONLY
        elif not interaction_may_reindex(interaction, self.bot.settings.admin_role):
            refusal = REMOVE_DENIED
        elif self.bot.collections.busy(place_of(interaction)):
            refusal = BUSY
        if refusal is not None:
            await self._refuse(interaction, refusal)
            return
        await interaction.response.defer(thinking=True)
        async with self.bot.collections.use(place_of(interaction)) as collection:
            assert collection is not None  # every server channel has a collection
            try:
                if collection.lock.locked():  # taken while this one opened the collection
                    raise ReindexInProgress(BUSY)
                async with collection.lock:
                    report = await asyncio.to_thread(remove_article, collection.engine, article)
            except Exception as exc:
                reply = Reply(content=failed("removed", exc))
            else:
                reply = removed_reply(report)
        await interaction.edit_original_response(
            content=reply.content, embed=reply.embed, allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    cog = Add(bot)
    if not bot.settings.anyone_may_add:
        # Discord then hides /add from members without Manage Server (server admins can grant
        # it to roles in Server Settings → Integrations); the bot checks again at run time.
        cog.add.default_permissions = discord.Permissions(manage_guild=True)
    await bot.add_cog(cog)
