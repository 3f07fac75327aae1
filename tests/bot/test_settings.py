"""Settings: every key read once, malformed values named with their fix, the token hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.client import intents_for
from bot.settings import Secret, Settings, SettingsError, load_settings, settings_from

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
CHANNEL = "123456789012345678"


def test_defaults() -> None:
    s = settings_from({})
    assert s == Settings()
    assert s.discord_token is None and s.answer_channels == frozenset()
    assert (s.cooldown_rate, s.cooldown_per, s.max_concurrent) == (3, 30.0, 4)


def test_every_key_is_read() -> None:
    s = settings_from(
        {
            "DISCORD_TOKEN": TOKEN,
            "CITEBOT_GUILD_ID": CHANNEL,
            "CITEBOT_ANSWER_CHANNELS": f"{CHANNEL}, 223456789012345678",
            "CITEBOT_ADMIN_ROLE": f"<@&{CHANNEL}>",
            "CITEBOT_COOLDOWN_RATE": "5",
            "CITEBOT_COOLDOWN_PER": "10.5",
            "CITEBOT_MAX_CONCURRENT": "2",
            "CITEBOT_ARTICLES_DIR": "news",
            "CITEBOT_INDEX_DIR": "idx",
            "CITEBOT_MODEL": "fake",
            "CITEBOT_THRESHOLD": "0.5",
            "CITEBOT_ENCODER": "torch",
            "CITEBOT_PASSAGE_VECTORS": "embedded",
        }
    )
    assert s.discord_token is not None and s.discord_token.reveal() == TOKEN
    assert s.guild_id == int(CHANNEL)
    assert s.answer_channels == {int(CHANNEL), 223456789012345678}
    assert (s.admin_role, s.cooldown_rate, s.cooldown_per, s.max_concurrent) == (
        int(CHANNEL),
        5,
        10.5,
        2,
    )
    assert (s.articles_dir, s.index_dir, s.model, s.threshold) == (
        Path("news"),
        Path("idx"),
        "fake",
        0.5,
    )
    assert (s.encoder, s.passage_vectors) == ("torch", "embedded")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("CITEBOT_COOLDOWN_RATE", "often", "CITEBOT_COOLDOWN_RATE='often' is not a whole number"),
        ("CITEBOT_COOLDOWN_RATE", "0", "CITEBOT_COOLDOWN_RATE=0 must be at least 1"),
        ("CITEBOT_COOLDOWN_PER", "soon", "CITEBOT_COOLDOWN_PER='soon' is not a number"),
        ("CITEBOT_MAX_CONCURRENT", "-1", "CITEBOT_MAX_CONCURRENT=-1 must be at least 1"),
        ("CITEBOT_THRESHOLD", "2", "CITEBOT_THRESHOLD=2.0 must be between 0.0 and 1.0"),
        ("CITEBOT_GUILD_ID", "42", "CITEBOT_GUILD_ID=42 is not a Discord server id"),
        ("CITEBOT_ANSWER_CHANNELS", "general", "CITEBOT_ANSWER_CHANNELS holds 'general'"),
        ("DISCORD_TOKEN", "hunter2", "DISCORD_TOKEN does not look like a bot token"),
        ("CITEBOT_ENCODER", "gpu", "CITEBOT_ENCODER='gpu' is not an encoder"),
        (
            "CITEBOT_ADMIN_ROLE",
            "Editors",
            "CITEBOT_ADMIN_ROLE='Editors' is not a role id. A name is not accepted: anyone who "
            "may create roles could create one of that name. Turn on Developer Mode",
        ),
        (
            "CITEBOT_PASSAGE_VECTORS",
            "mean",
            "CITEBOT_PASSAGE_VECTORS='mean' is not a way to make passage vectors; use one of "
            "pooled, embedded",
        ),
    ],
)
def test_a_malformed_value_names_its_key(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from({key: value})
    assert message in str(caught.value)
    if key == "DISCORD_TOKEN":
        assert value not in str(caught.value)


def test_the_token_never_shows() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret) and TOKEN not in str(secret) and TOKEN not in f"{secret}"
    s = settings_from({"DISCORD_TOKEN": TOKEN})
    assert TOKEN not in repr(s) and TOKEN not in str(s)
    assert bool(secret) and not Secret("")


def test_env_file_then_real_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("CITEBOT_COOLDOWN_RATE=7\nCITEBOT_MAX_CONCURRENT=9\n")
    monkeypatch.setenv("CITEBOT_MAX_CONCURRENT", "1")
    s = load_settings(env)
    assert (s.cooldown_rate, s.max_concurrent) == (7, 1)
    assert load_settings(tmp_path / "missing.env").cooldown_rate == 3


def test_message_content_intent_only_for_answer_channels() -> None:
    assert not intents_for(Settings()).message_content
    with_channels = intents_for(Settings(answer_channels=frozenset({int(CHANNEL)})))
    assert with_channels.message_content
    assert with_channels.guild_messages and with_channels.dm_messages and with_channels.guilds
    assert not with_channels.members and not with_channels.presences


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "5", "-1"])
def test_a_threshold_flag_outside_0_to_1_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as caught:
        main([f"--threshold={value}", "sources"])
    assert caught.value.code == 2
    assert "must be between 0 and 1" in capsys.readouterr().err


def test_an_env_file_not_in_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes("CITEBOT_ADMIN_ROLE=Rédaction\n".encode("latin-1"))
    with pytest.raises(SettingsError, match=r"\.env is not UTF-8 text .* save it as UTF-8"):
        load_settings(env)


def test_a_named_env_file_that_is_missing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    with pytest.raises(SettingsError, match=r"missing\.env does not exist; check --env-file"):
        load_settings(tmp_path / "missing.env", required=True)
    assert main(["--env-file", str(tmp_path / "missing.env"), "sources"]) == 1
    assert "does not exist; check --env-file" in capsys.readouterr().err


def test_a_misspelt_key_is_named_with_the_likely_one() -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from({"CITEBOT_TRESHOLD": "0.5", "OTHER_TOOL_KEY": "1"})
    assert "CITEBOT_TRESHOLD (did you mean CITEBOT_THRESHOLD?)" in str(caught.value)
    assert "OTHER_TOOL_KEY" not in str(caught.value)


def test_a_folder_setting_expands_the_home_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/editor")
    s = settings_from({"CITEBOT_INDEX_DIR": "~/idx", "CITEBOT_ARTICLES_DIR": "~/news"})
    assert (s.index_dir, s.articles_dir) == (Path("/home/editor/idx"), Path("/home/editor/news"))


def test_the_reader_is_off_unless_asked_for() -> None:
    assert settings_from({}).reader is False
    assert settings_from({"CITEBOT_READER": "on"}).reader is True
    assert settings_from({"CITEBOT_READER": "off"}).reader is False
    with pytest.raises(SettingsError, match="CITEBOT_READER='yes' is not a reader setting"):
        settings_from({"CITEBOT_READER": "yes"})


def test_the_add_settings() -> None:
    s = settings_from(
        {
            "CITEBOT_ANYONE_MAY_ADD": "on",
            "CITEBOT_FETCH_TIMEOUT": "5",
            "CITEBOT_FETCH_MAX_REDIRECTS": "0",
            "CITEBOT_FETCH_ALLOW": "127.0.0.1, 10.0.0.0/8,::1",
        }
    )
    assert (s.anyone_may_add, s.fetch_timeout, s.fetch_max_redirects) == (True, 5.0, 0)
    assert [str(n) for n in s.fetch_allow] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert settings_from({}).fetch_allow == ()
    with pytest.raises(SettingsError, match="CITEBOT_FETCH_ALLOW: 'intranet' is not an IP"):
        settings_from({"CITEBOT_FETCH_ALLOW": "intranet"})
    with pytest.raises(SettingsError, match="CITEBOT_ANYONE_MAY_ADD='yes' is not an /add"):
        settings_from({"CITEBOT_ANYONE_MAY_ADD": "yes"})


def test_the_collection_settings() -> None:
    s = settings_from(
        {
            "CITEBOT_COLLECTIONS_DIR": "collections",
            "CITEBOT_CHANNEL_COLLECTIONS": f"{CHANNEL}:world-news",
            "CITEBOT_DM_COLLECTION": "world-news",
            "CITEBOT_MAX_OPEN_COLLECTIONS": "2",
            "CITEBOT_COLLECTION_IDLE": "60",
        }
    )
    assert s.collections_dir == Path("collections")
    assert s.channel_collections == {int(CHANNEL): "world-news"}
    assert (s.dm_collection, s.max_open_collections, s.collection_idle) == ("world-news", 2, 60.0)
    assert settings_from({}).collections_dir is None
    with pytest.raises(SettingsError, match="need CITEBOT_COLLECTIONS_DIR"):
        settings_from({"CITEBOT_DM_COLLECTION": "world"})
    with pytest.raises(SettingsError, match=r"'\.\./etc' is not a collection name"):
        settings_from({"CITEBOT_COLLECTIONS_DIR": "c", "CITEBOT_DM_COLLECTION": "../etc"})
    with pytest.raises(SettingsError, match="CHANNEL_ID:COLLECTION pairs"):
        settings_from({"CITEBOT_COLLECTIONS_DIR": "c", "CITEBOT_CHANNEL_COLLECTIONS": "news"})
