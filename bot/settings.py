"""Configuration, read once: the process environment over a `.env` file (python-dotenv).

Nothing else in citebot reads os.environ. A missing or malformed value stops start-up with one
message that names the key and says how to fix it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from dotenv import dotenv_values

from retrieval.encode.load import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, Backend
from retrieval.ingest.addresses import Network, parse_networks
from retrieval.types import DEFAULT_RECIPE, RECIPES, PassageVectors

_C = TypeVar("_C", bound=str)
ReplyMode = Literal["inline", "thread"]
REPLY_MODES: tuple[ReplyMode, ...] = ("inline", "thread")


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message names the key and the fix."""


class Secret:
    """A value that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting citebot has; `.env.example` documents each key."""

    articles_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL
    encoder: Backend = DEFAULT_BACKEND
    passage_vectors: PassageVectors = DEFAULT_RECIPE
    # Below it citebot abstains: the reader's probability (0-1), or without the reader a
    # relevance score; None: the default of the one in use (0.5 and 0.3, docs/quality.md).
    threshold: float | None = None
    # The trained reader picks the sentence and decides abstention (docs/reader.md); off by
    # default until it beats the hand-weighted scores (docs/quality.md).
    reader: bool = False
    max_file_bytes: int = 5_000_000
    max_shrink: float = 0.5
    discord_token: Secret | None = field(default=None, repr=False)
    guild_id: int | None = None
    answer_channels: frozenset[int] = frozenset()
    admin_role: int | None = None  # a role id: a name can be taken by anyone
    cooldown_rate: int = 3
    cooldown_per: float = 30.0
    max_concurrent: int = 4
    # /add: members without the admin role or Manage Server may add too (removing stays
    # with admins); and the limits on fetching a link (size: max_file_bytes).
    anyone_may_add: bool = False
    fetch_timeout: float = 20.0
    fetch_max_redirects: int = 5
    # Networks a link may lead to though they are not public (loopback for tests, an intranet).
    fetch_allow: tuple[Network, ...] = ()
    # Collections (bot/collections.py): None, one for everything (articles_dir, index_dir);
    # a folder, one per server under it, channels mapped to named ones, DMs to dm_collection.
    collections_dir: Path | None = None
    channel_collections: Mapping[int, str] = field(default_factory=dict)
    dm_collection: str | None = None
    max_open_collections: int = 8
    collection_idle: float = 900.0
    # Sharding (docs/scaling.md): this process runs `shard_ids` (all when empty) of
    # `shard_count` shards; None: one unsharded connection.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] = ()
    # Seconds between checks for a new CURRENT copied in by a replica; 0: never.
    index_poll: float = 30.0
    # Where answers to messages go: a reply in the channel, or a thread opened for the question
    # (follow-ups in any thread the bot answered in need no mention either way).
    reply_mode: ReplyMode = "inline"
    # Days the ledger keeps questions and votes (bot/ledger.py).
    retention_days: int = 30

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with command-line flags applied (None means "not given")."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _int(env: Mapping[str, str], key: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a whole number; fix it in .env.") from None
    if value < minimum:
        raise SettingsError(f"{key}={value} must be at least {minimum}; fix it in .env.")
    return value


@overload
def _float(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float: ...
@overload
def _float(
    env: Mapping[str, str], key: str, default: None, lo: float, hi: float
) -> float | None: ...
def _float(
    env: Mapping[str, str], key: str, default: float | None, lo: float, hi: float
) -> float | None:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number; fix it in .env.") from None
    if not lo <= value <= hi:  # false for NaN too
        raise SettingsError(f"{key}={value} must be between {lo} and {hi}; fix it in .env.")
    return value


def check_threshold(value: float, key: str = "CITEBOT_THRESHOLD") -> float:
    """A confidence threshold: a finite number from 0 to 1 (NaN, infinities and 5 are not)."""
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise SettingsError(f"{key}={value} must be between 0 and 1, for example 0.3.")
    return value


def _path(env: Mapping[str, str], key: str, default: Path) -> Path:
    """A folder setting; `~` means the home folder, as in a shell."""
    raw = env.get(key, "").strip()
    return Path(raw).expanduser() if raw else default


class _Recorded(Mapping[str, str]):
    """The settings' source, remembering every key looked up, so a key never read (a
    misspelling) can be named."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:  # Mapping.get comes here too
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _check_unknown(env: _Recorded) -> None:
    unknown = sorted(k for k in env if k.startswith("CITEBOT_") and k not in env.read)
    if not unknown:
        return
    known = sorted(k for k in env.read if k.startswith("CITEBOT_"))
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
    raise SettingsError(
        f"Unknown setting {', '.join(hints)}; .env.example lists every key citebot reads."
    )


def _snowflakes(env: Mapping[str, str], key: str) -> frozenset[int]:
    raw = env.get(key, "").strip()
    ids = set()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if not part.isdigit() or not 15 <= len(part) <= 21:
            raise SettingsError(
                f"{key} holds {part!r}, which is not a Discord id; list channel ids separated by "
                "commas (Developer Mode on, right-click a channel, Copy Channel ID)."
            )
        ids.add(int(part))
    return frozenset(ids)


def _role(env: Mapping[str, str], key: str) -> int | None:
    """A role id, bare or as Discord writes a role mention (`<@&ID>`)."""
    raw = env.get(key, "").strip()
    if not raw:
        return None
    digits = raw.removeprefix("<@&").removesuffix(">")
    if digits.isdigit() and 15 <= len(digits) <= 21:
        return int(digits)
    raise SettingsError(
        f"{key}={raw!r} is not a role id. A name is not accepted: anyone who may create roles "
        "could create one of that name. Turn on Developer Mode (User Settings, Advanced), then "
        "in Server Settings, Roles, right-click the role and Copy Role ID."
    )


def _networks(env: Mapping[str, str], key: str) -> tuple[Network, ...]:
    raw = env.get(key, "").strip()
    try:
        return parse_networks(p for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise SettingsError(
            f"{key}: {exc}; list addresses or networks separated by commas, e.g. "
            "127.0.0.1,10.0.0.0/8, or leave it empty to fetch from public addresses only."
        ) from None


_COLLECTION = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _collection(key: str, name: str) -> str:
    if not _COLLECTION.fullmatch(name):
        raise SettingsError(
            f"{key}: {name!r} is not a collection name; use lower-case letters, digits, - and _ "
            "(up to 64), e.g. world-news."
        )
    return name


def _channel_collections(env: Mapping[str, str], key: str) -> dict[int, str]:
    """`CHANNEL_ID:NAME` pairs separated by commas."""
    raw = env.get(key, "").strip()
    mapping: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        channel, _, name = (x.strip() for x in part.partition(":"))
        if not name or not channel.isdigit() or not 15 <= len(channel) <= 21:
            raise SettingsError(
                f"{key} holds {part!r}; list CHANNEL_ID:COLLECTION pairs separated by commas, "
                "e.g. 123456789012345678:world-news."
            )
        mapping[int(channel)] = _collection(key, name)
    return mapping


def _choice(
    env: Mapping[str, str], key: str, choices: tuple[_C, ...], default: _C, what: str
) -> _C:
    """One of `choices`, by name; `what` says in words what the key names ("an encoder")."""
    raw = env.get(key, "").strip()
    for choice in choices:
        if raw == choice:
            return choice
    if raw:
        raise SettingsError(f"{key}={raw!r} is not {what}; use one of {', '.join(choices)}.")
    return default


def check_shards(count: int | None, ids: tuple[int, ...], key: str = "CITEBOT_SHARD_IDS") -> None:
    """Shard ids need a shard count, and each is below it (shards are numbered from 0)."""
    if count is None:
        if ids:
            raise SettingsError(
                f"{key} needs a shard count too: --shard-count or CITEBOT_SHARD_COUNT."
            )
        return
    if count < 1:
        raise SettingsError(f"A shard count of {count} is too small; use 1 or more.")
    bad = [i for i in ids if not 0 <= i < count]
    if bad or len(set(ids)) != len(ids):
        raise SettingsError(
            f"{key} {','.join(map(str, ids))} must name distinct shards from 0 to {count - 1} "
            f"(a shard count of {count})."
        )


def shard_ids_from(raw: str, key: str = "CITEBOT_SHARD_IDS") -> tuple[int, ...]:
    """`0,1` as (0, 1); empty as ()."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise SettingsError(f"{key}={raw!r} is not a list of shard numbers; write it as 0,1.")
    return tuple(int(p) for p in parts)


def settings_from(env: Mapping[str, str]) -> Settings:
    """Build Settings from a mapping of keys to strings; raises SettingsError, also for a
    `CITEBOT_*` key citebot does not read (a misspelling would otherwise pass in silence)."""
    recorded = _Recorded(env)
    settings = _settings_from(recorded)
    _check_unknown(recorded)
    return settings


def _settings_from(env: Mapping[str, str]) -> Settings:
    token = env.get("DISCORD_TOKEN", "").strip()
    if token and (len(token) < 50 or " " in token or token.count(".") != 2):
        raise SettingsError(
            "DISCORD_TOKEN does not look like a bot token (three dot-separated parts); copy it "
            "from the Developer Portal (Bot, Reset Token), or leave it empty to use the local "
            "Discord."
        )
    guild = _int(env, "CITEBOT_GUILD_ID", None, minimum=1)
    if guild is not None and not 15 <= len(str(guild)) <= 21:
        raise SettingsError(f"CITEBOT_GUILD_ID={guild} is not a Discord server id; fix it in .env.")
    defaults = Settings()
    shard_count = _int(env, "CITEBOT_SHARD_COUNT", None, minimum=1)
    shard_ids = shard_ids_from(env.get("CITEBOT_SHARD_IDS", ""))
    check_shards(shard_count, shard_ids)
    return Settings(
        articles_dir=_path(env, "CITEBOT_ARTICLES_DIR", defaults.articles_dir),
        index_dir=_path(env, "CITEBOT_INDEX_DIR", defaults.index_dir),
        model=env.get("CITEBOT_MODEL", "").strip() or defaults.model,
        encoder=_choice(env, "CITEBOT_ENCODER", BACKENDS, defaults.encoder, "an encoder"),
        passage_vectors=_choice(
            env,
            "CITEBOT_PASSAGE_VECTORS",
            RECIPES,
            defaults.passage_vectors,
            "a way to make passage vectors",
        ),
        threshold=_float(env, "CITEBOT_THRESHOLD", defaults.threshold, 0.0, 1.0),
        reader=_choice(env, "CITEBOT_READER", ("on", "off"), "off", "a reader setting") == "on",
        max_file_bytes=_int(env, "CITEBOT_MAX_FILE_BYTES", defaults.max_file_bytes, minimum=1)
        or defaults.max_file_bytes,
        max_shrink=_float(env, "CITEBOT_MAX_SHRINK", defaults.max_shrink, 0.0, 1.0),
        discord_token=Secret(token) if token else None,
        guild_id=guild,
        answer_channels=_snowflakes(env, "CITEBOT_ANSWER_CHANNELS"),
        admin_role=_role(env, "CITEBOT_ADMIN_ROLE"),
        cooldown_rate=_int(env, "CITEBOT_COOLDOWN_RATE", defaults.cooldown_rate, minimum=1)
        or defaults.cooldown_rate,
        cooldown_per=_float(env, "CITEBOT_COOLDOWN_PER", defaults.cooldown_per, 0.0, 86400.0),
        max_concurrent=_int(env, "CITEBOT_MAX_CONCURRENT", defaults.max_concurrent, minimum=1)
        or defaults.max_concurrent,
        anyone_may_add=_choice(
            env, "CITEBOT_ANYONE_MAY_ADD", ("on", "off"), "off", "an /add setting"
        )
        == "on",
        fetch_timeout=_float(env, "CITEBOT_FETCH_TIMEOUT", defaults.fetch_timeout, 1.0, 600.0),
        fetch_max_redirects=_int(
            env, "CITEBOT_FETCH_MAX_REDIRECTS", defaults.fetch_max_redirects, minimum=0
        )
        or 0,
        fetch_allow=_networks(env, "CITEBOT_FETCH_ALLOW"),
        **_collections(env, defaults),
        shard_count=shard_count,
        shard_ids=shard_ids,
        index_poll=_float(env, "CITEBOT_INDEX_POLL", defaults.index_poll, 0.0, 86400.0),
        reply_mode=_choice(
            env, "CITEBOT_REPLY_MODE", REPLY_MODES, defaults.reply_mode, "a reply mode"
        ),
        retention_days=_int(env, "CITEBOT_RETENTION_DAYS", defaults.retention_days, minimum=1)
        or defaults.retention_days,
    )


def _collections(env: Mapping[str, str], defaults: Settings) -> dict[str, Any]:
    raw_dir = env.get("CITEBOT_COLLECTIONS_DIR", "").strip()
    channels = _channel_collections(env, "CITEBOT_CHANNEL_COLLECTIONS")
    dm = env.get("CITEBOT_DM_COLLECTION", "").strip()
    if not raw_dir and (channels or dm):
        raise SettingsError(
            "CITEBOT_CHANNEL_COLLECTIONS and CITEBOT_DM_COLLECTION need CITEBOT_COLLECTIONS_DIR, "
            "the folder the collections live in; set it, or empty them for one collection."
        )
    return {
        "collections_dir": Path(raw_dir).expanduser() if raw_dir else None,
        "channel_collections": channels,
        "dm_collection": _collection("CITEBOT_DM_COLLECTION", dm) if dm else None,
        "max_open_collections": _int(
            env, "CITEBOT_MAX_OPEN_COLLECTIONS", defaults.max_open_collections, minimum=1
        )
        or defaults.max_open_collections,
        "collection_idle": _float(
            env, "CITEBOT_COLLECTION_IDLE", defaults.collection_idle, 1.0, 7 * 86400.0
        ),
    }


def load_settings(env_file: Path = Path(".env"), *, required: bool = False) -> Settings:
    """The one place that reads the environment: `.env` values, overridden by real variables.
    A missing `env_file` is an error when `required` (it was named on the command line)."""
    if required and not env_file.exists():
        raise SettingsError(f"The settings file {env_file} does not exist; check --env-file.")
    try:
        read = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"The settings file {env_file} is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise SettingsError(f"Cannot read the settings file {env_file}: {exc.strerror}.") from None
    values = {k: v for k, v in read.items() if v is not None}
    values.update(os.environ)
    return settings_from(values)
