"""A throwaway discord.py bot, and a fresh local Discord per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from localdiscord import LocalDiscord


class EchoBot(commands.Bot):
    """A throwaway bot: replies to messages, and has slash commands that defer, follow up and
    need Manage Server."""

    def __init__(self, *, content_intent: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = content_intent
        super().__init__(command_prefix="!", intents=intents, **options)
        self.seen: list[str] = []

    async def setup_hook(self) -> None:
        self.tree.add_command(echo)
        self.tree.add_command(count)
        self.tree.add_command(reindex)
        self.tree.add_command(slow)
        self.tree.add_command(attach)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen.append(message.content)
        mentioned = self.user is not None and self.user.mentioned_in(message)
        reply = f"echo: {message.content!r} mentioned={mentioned}"
        await message.reply(reply, mention_author=False)


@app_commands.command()
async def echo(interaction: discord.Interaction, text: str) -> None:
    """Defer, then edit the original response."""
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content=f"echo: {text}")


@app_commands.command()
async def count(interaction: discord.Interaction, n: app_commands.Range[int, 1, 5]) -> None:
    """Answer ephemerally, then send n follow-ups."""
    await interaction.response.send_message("counting", ephemeral=True)
    for i in range(n):
        await interaction.followup.send(f"{i + 1}", embed=discord.Embed(title=f"#{i + 1}"))


@app_commands.command()
@app_commands.default_permissions(manage_guild=True)
async def reindex(interaction: discord.Interaction) -> None:
    """Admin-only: report what the bot saw of the caller's permissions."""
    perms = interaction.permissions
    where = "dm" if interaction.guild_id is None else "guild"
    await interaction.response.send_message(f"manage_guild={perms.manage_guild} in {where}")


@app_commands.command()
async def slow(interaction: discord.Interaction) -> None:
    """Misses the acknowledgement deadline."""
    await asyncio.sleep(0.3)
    with_error = False
    try:
        await interaction.response.send_message("too late")
    except discord.NotFound:
        with_error = True
    assert with_error


@app_commands.command()
async def attach(
    interaction: discord.Interaction, file: discord.Attachment, note: str | None = None
) -> None:
    """Download the attached file and say what it holds."""
    await interaction.response.defer(thinking=True)
    data = await file.read()
    await interaction.edit_original_response(
        content=f"{file.filename} {file.size} {file.content_type} {data.decode()!r} {note}"
    )


def make(fake: LocalDiscord, **options: Any) -> Callable[[], EchoBot]:
    return lambda: EchoBot(**fake.client_options, **options)


@pytest.fixture
async def fake() -> AsyncIterator[LocalDiscord]:
    async with LocalDiscord() as server:
        yield server
