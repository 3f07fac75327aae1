"""Configuration, read once: the process environment over a `.env` file (python-dotenv).

Nothing else in citebot reads os.environ. A missing or malformed value stops start-up with one
message that names the key and says how to fix it.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from dotenv import dotenv_values

from retrieval.encode.load import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, Backend
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
        reply_mode=_choice(
            env, "CITEBOT_REPLY_MODE", REPLY_MODES, defaults.reply_mode, "a reply mode"
        ),
        retention_days=_int(env, "CITEBOT_RETENTION_DAYS", defaults.retention_days, minimum=1)
        or defaults.retention_days,
    )


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
