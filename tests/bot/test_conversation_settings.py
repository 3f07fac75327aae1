"""The settings of conversations: reply mode, retention, and the intent thread mode needs."""

from __future__ import annotations

import pytest

from bot.client import intents_for
from bot.settings import Settings, SettingsError, settings_from


def test_inline_and_30_days_are_the_defaults() -> None:
    settings = settings_from({})
    assert (settings.reply_mode, settings.retention_days) == ("inline", 30)


def test_thread_mode_and_a_retention_are_read() -> None:
    settings = settings_from({"CITEBOT_REPLY_MODE": "thread", "CITEBOT_RETENTION_DAYS": "7"})
    assert (settings.reply_mode, settings.retention_days) == ("thread", 7)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("CITEBOT_REPLY_MODE", "threads", "use one of inline, thread"),
        ("CITEBOT_RETENTION_DAYS", "0", "must be at least 1"),
        ("CITEBOT_RETENTION_DAYS", "a month", "not a whole number"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        settings_from({key: value})
    assert key in str(caught.value)


def test_thread_mode_asks_for_message_content_to_read_follow_ups() -> None:
    assert not intents_for(Settings()).message_content
    assert intents_for(Settings(reply_mode="thread")).message_content
