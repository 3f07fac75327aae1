"""Fetching pages from a local web server: real pages, redirects, and every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from retrieval.errors import ArticleError, FetchError
from retrieval.ingest.addresses import check_url, parse_networks, refusal
from retrieval.ingest.fetch import Fetched, FetchLimits, fetch
from retrieval.ingest.incoming import from_page
from tests.webpages import LOOPBACK, PageServer, page

ALLOW_LOOPBACK = FetchLimits(allowed=parse_networks(LOOPBACK), timeout=5)


@pytest.fixture
async def pages() -> AsyncIterator[PageServer]:
    async with PageServer() as server:
        yield server


async def test_a_news_page_gives_its_title_date_site_and_text(pages: PageServer) -> None:
    page = await fetch(pages.url("/harbour"), ALLOW_LOOPBACK)
    incoming = from_page(page)
    [article] = incoming.articles
    assert article.title == "Harbour bridge reopens after repairs"
    assert article.published == "2025-03-14"
    assert article.source == "Coastal Times"
    assert article.url == pages.url("/harbour")
    assert "replaced 140 cables" in article.text
    assert "Home" not in article.text and "Copyright" not in article.text  # boilerplate gone
    assert incoming.name.startswith("added/harbour-bridge-reopens-after-repairs-")
    assert incoming.name.endswith(".md")


async def test_redirects_are_followed_and_the_final_address_kept(pages: PageServer) -> None:
    page = await fetch(pages.url("/moved-twice"), ALLOW_LOOPBACK)
    assert page.url == pages.url("/moved-twice")
    assert page.final_url == pages.url("/harbour")
    assert pages.hits == {"/moved-twice": 1, "/moved": 1, "/harbour": 1}


async def test_plain_text_and_pdf_pages_are_read(pages: PageServer) -> None:
    plain = from_page(await fetch(pages.url("/plain"), ALLOW_LOOPBACK)).articles[0]
    pdf = from_page(await fetch(pages.url("/library.pdf"), ALLOW_LOOPBACK)).articles[0]
    assert plain.title == "Night trains return"
    assert plain.text.startswith("Night trains return\nA night train between Vienna and Rome")
    assert pdf.title == "Library extends opening hours"
    assert "survey of 2,400 readers" in pdf.text


async def test_a_page_with_no_main_text_says_so(pages: PageServer) -> None:
    page = await fetch(pages.url("/empty"), ALLOW_LOOPBACK)
    with pytest.raises(ArticleError, match="No main text"):
        from_page(page)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-metadata", "169.254.169.254 is a link-local address"),
        ("/to-private", "10.1.2.3 is a private address"),
        ("/to-ipv6-loopback", "::1 is a loopback address"),
        ("/to-file", "Only http and https"),
        ("/loop", "redirects more than 5 times"),
        ("/image.png", "is image/png, not an article"),
        ("/missing", "answered 404 Not Found"),
        ("/huge", "over the limit of 5,000,000 bytes"),
        ("/huge-declared", "over the limit of 5,000,000 bytes"),
    ],
)
async def test_refused_fetches_say_why(pages: PageServer, path: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        await fetch(pages.url(path), ALLOW_LOOPBACK)


async def test_a_slow_body_is_cut_off_at_the_deadline(pages: PageServer) -> None:
    # /slow trickles forever, so without the deadline the fetch never ends; the outer guard
    # (60 times the deadline, so a busy machine cannot trip it) turns that into a failure.
    limits = FetchLimits(allowed=parse_networks(LOOPBACK), timeout=0.5)
    with pytest.raises(FetchError, match=r"took longer than 0\.5 s"):
        await asyncio.wait_for(fetch(pages.url("/slow"), limits), 30)


async def test_loopback_is_refused_unless_allowed(pages: PageServer) -> None:
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address"):
        await fetch(pages.url("/harbour"), FetchLimits())
    assert pages.hits == {}  # refused before connecting


async def test_a_name_resolving_to_loopback_is_refused_after_resolution(
    pages: PageServer,
) -> None:
    with pytest.raises(FetchError, match="localhost: it resolves to an address"):
        await fetch(pages.url("/harbour", host="localhost"), FetchLimits())
    assert pages.hits == {}


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # AWS, GCP and Azure metadata
        "100.100.100.200",  # Alibaba metadata, in carrier-grade NAT space
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "::ffff:127.0.0.1",  # IPv4-mapped
        "224.0.0.1",
    ],
)
def test_private_addresses_are_refused(address: str) -> None:
    assert refusal(address) is not None


def test_public_addresses_pass_and_the_allow_list_opens_private_ones() -> None:
    assert refusal("93.184.215.14") is None
    assert refusal("2606:4700::1111") is None
    assert refusal("10.0.0.8", parse_networks(["10.0.0.0/8"])) is None
    assert refusal("10.0.0.8", parse_networks(["127.0.0.1"])) is not None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/a", "not ftp:"),
        ("example.org/story", "does not start with http"),
        ("https://user:pw@example.org/", "user name or password"),
        ("http://169.254.169.254/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http:///nohost", "names no host"),
    ],
)
def test_bad_links_are_refused_before_any_request(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        check_url(url)


def test_a_charset_python_does_not_know_falls_back_to_the_guess() -> None:
    body = page("orchard.html")
    article = from_page(
        Fetched("https://v.example/", "https://v.example/", ".html", "x-nope", body)
    )
    assert article.articles[0].title == "Frost damages apple orchards"
