"""The bot with the real bundled model over the seed article, through the local Discord."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from retrieval import Engine
from retrieval.encode.encoder import Encoder
from tests.bot.conftest import Run
from tests.conftest import SEEDS

LEE = (
    "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
    "Sanae Takaichi."
)

pytestmark = pytest.mark.model


@pytest.fixture
def seed_engine(tmp_path: Path, real_encoder: Encoder) -> Iterator[Engine]:
    engine = Engine(tmp_path / "seed-index", SEEDS, real_encoder)
    engine.reindex()
    yield engine
    engine.close()


async def test_the_seed_questions(run_bot: Run, seed_engine: Engine) -> None:
    async with run_bot(engine=seed_engine) as session:
        lee = await session.send_message("When is Lee visiting Japan?", mention_bot=True)
        [lee_reply] = await lee.wait_messages(timeout=30)
        run = await session.invoke("ask", {"question": "Who won the 2022 FIFA World Cup?"})
        fifa = await run.wait_done(timeout=30)
    answer = discord.Embed.from_dict(lee_reply.embeds[0])
    assert answer.description == f"> {LEE}"
    fields = {f.name: f.value for f in answer.fields}
    assert "lee-jae-myung-china-visit.txt" in (answer.url or fields.get("File") or "")
    assert fifa.original is not None
    abstained = discord.Embed.from_dict(fifa.original.embeds[0])
    assert abstained.title == "Not in the articles"
