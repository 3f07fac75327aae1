"""Fetching one web page for the articles folder, within limits, from public addresses only.

aiohttp does the HTTP. What it does not do on its own is done here: redirects are followed one
hop at a time so that each new address is checked before it is asked (addresses.py); the host
name of every connection is resolved by a resolver that refuses private addresses, so the
address checked is the address connected to (no second lookup a DNS server could answer
differently); the body is read in chunks and dropped past the size limit, whatever the server
claims its length is; one deadline covers the whole fetch, redirects and a slow body included.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from retrieval.errors import FetchError
from retrieval.ingest.addresses import Network, check_url, refusal

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What a page may be, by its Content-Type, and the suffix its file is read as (loading.py).
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/pdf": ".pdf",
}
USER_AGENT = "citebot/0.1 (a Discord bot that quotes news articles)"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How much a fetch may take: bytes of body, seconds in all, redirects followed; and the
    networks that may be fetched from though they are not public (`allowed`)."""

    max_bytes: int = 5_000_000
    timeout: float = 20.0
    max_redirects: int = 5
    allowed: tuple[Network, ...] = ()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched page: the link asked for, where it ended after redirects, what it is (a file
    suffix, from its Content-Type) and its body."""

    url: str
    final_url: str
    suffix: str
    charset: str | None
    body: bytes


class _CheckingResolver(AbstractResolver):
    """The system's resolver, refusing a host with any address that may not be fetched: a
    name with one public and one private address could be connected to either."""

    def __init__(self, allowed: tuple[Network, ...]) -> None:
        self._inner = ThreadedResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            why = refusal(result["host"], self._allowed)
            if why is not None:
                raise _Refused(
                    f"Refused to fetch from {host}: it resolves to an address that may not be "
                    f"fetched from ({why})."
                )
        return results

    async def close(self) -> None:
        await self._inner.close()


class _Refused(OSError):
    """Raised inside aiohttp's connector, which passes an OSError on as the cause of its own."""


async def fetch(url: str, limits: FetchLimits) -> Fetched:
    """Fetch `url` within `limits`; raise FetchError saying in words why it could not be."""
    check_url(url, limits.allowed)
    connector = aiohttp.TCPConnector(
        resolver=_CheckingResolver(limits.allowed), use_dns_cache=False
    )
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=limits.timeout),
        headers={"User-Agent": USER_AGENT},
        trust_env=False,  # a proxy from the environment would connect where we did not check
    ) as session:
        try:
            async with asyncio.timeout(limits.timeout):
                return await _follow(session, url.strip(), limits)
        except TimeoutError:
            raise FetchError(
                f"Fetching {url} took longer than {limits.timeout:g} s, so it was stopped "
                "(CITEBOT_FETCH_TIMEOUT)."
            ) from None
        except aiohttp.ClientError as exc:
            refused = _refused_cause(exc)
            if refused is not None:
                raise FetchError(str(refused)) from None
            raise FetchError(f"Cannot fetch {url}: {_describe(exc)}.") from None


def _refused_cause(exc: BaseException) -> _Refused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _Refused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "its host name is not known"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "the server cannot be reached"
    return " ".join(str(exc).split()) or type(exc).__name__


async def _follow(session: aiohttp.ClientSession, url: str, limits: FetchLimits) -> Fetched:
    current = url
    for _ in range(limits.max_redirects + 1):
        async with session.get(current, allow_redirects=False) as response:
            if response.status in REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"{current} redirects without saying where to.")
                current = check_url(urljoin(str(response.url), location), limits.allowed)
                continue
            if response.status >= 400:
                raise FetchError(
                    f"{current} answered {response.status} {response.reason or ''}".rstrip()
                    + "; check the link."
                )
            if response.status != 200:
                raise FetchError(f"{current} answered {response.status}, not a page.")
            suffix = CONTENT_TYPES.get(response.content_type)
            if suffix is None:
                kinds = ", ".join(sorted(CONTENT_TYPES))
                raise FetchError(
                    f"{current} is {response.content_type or 'of no stated type'}, not an "
                    f"article; citebot reads {kinds}."
                )
            body = await _read_limited(response, limits.max_bytes, current)
            return Fetched(url, current, suffix, response.charset, body)
    raise FetchError(
        f"{url} redirects more than {limits.max_redirects} times, so it was not followed "
        "(CITEBOT_FETCH_MAX_REDIRECTS)."
    )


async def _read_limited(response: aiohttp.ClientResponse, max_bytes: int, url: str) -> bytes:
    too_big = (
        f"{url} is over the limit of {max_bytes:,} bytes (CITEBOT_MAX_FILE_BYTES), so it "
        "was not read."
    )
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError(too_big)
    chunks: list[bytes] = []
    size = 0
    # Decompressed chunks: a small gzip that inflates to gigabytes stops at the limit too.
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(too_big)
        chunks.append(chunk)
    return b"".join(chunks)
