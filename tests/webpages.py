"""A local web server (aiohttp) serving real news pages and the ways a fetch goes wrong: redirects,
a redirect loop, a redirect to a private address, huge and slow bodies, content that is not an
article. Used by the fetcher's tests and the bot's /add tests.

    async with PageServer() as pages:
        url = pages.url("/harbour")
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

from aiohttp import web

PAGES = Path(__file__).resolve().parent / "data" / "pages"
HUGE = 6_000_000  # over the default limit of 5,000,000 bytes
LOOPBACK = ("127.0.0.1/32",)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


class PageServer:
    """Serves on 127.0.0.1; `hits` counts the requests per path (a refused fetch makes none)."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Released by a test to let the slow page finish; never set otherwise.
        self.release = asyncio.Event()

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def __aenter__(self) -> PageServer:
        app = web.Application(middlewares=[self._count])
        routes = [
            web.get("/harbour", self._html("harbour.html")),
            web.get("/orchard", self._html("orchard.html")),
            web.get("/empty", self._html("empty.html")),
            web.get("/plain", self._plain),
            web.get("/library.pdf", self._pdf),
            web.get("/image.png", self._image),
            web.get("/huge", self._huge),
            web.get("/huge-declared", self._huge_declared),
            web.get("/slow", self._slow),
            web.get("/missing", self._missing),
            web.get("/moved", self._redirect("/harbour")),
            web.get("/moved-twice", self._redirect("/moved")),
            web.get("/loop", self._redirect("/loop")),
            web.get("/to-metadata", self._redirect("http://169.254.169.254/latest/meta-data/")),
            web.get("/to-private", self._redirect("http://10.1.2.3/admin")),
            web.get("/to-ipv6-loopback", self._to_ipv6_loopback),
            web.get("/to-file", self._redirect("file:///etc/passwd")),
        ]
        app.add_routes(routes)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _count(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        return await handler(request)

    @staticmethod
    def _html(name: str) -> web.Handler:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=page(name), content_type="text/html", charset="utf-8")

        return handler

    @staticmethod
    def _redirect(location: str) -> web.Handler:
        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPFound(location)

        return handler

    async def _to_ipv6_loopback(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"http://[::1]:{self.port}/harbour")

    async def _plain(self, request: web.Request) -> web.Response:
        text = (
            "Night trains return\n"
            "A night train between Vienna and Rome will run three times a week from December, "
            "the operator said on Wednesday.\n"
        )
        return web.Response(text=text, content_type="text/plain")

    async def _pdf(self, request: web.Request) -> web.Response:
        return web.Response(body=page("library.pdf"), content_type="application/pdf")

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")

    async def _missing(self, request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """A body over the limit, sent without a Content-Length (chunked): only counting the
        bytes as they come finds it too big."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"<p>" + b"word " * 20_000 + b"</p>\n"
        sent = 0
        try:
            while sent < HUGE:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionResetError, RuntimeError):
            return response  # the client stopped reading, as it should
        await response.write_eof()
        return response

    async def _huge_declared(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/html", "Content-Length": str(HUGE)}
        )
        await response.prepare(request)
        try:
            await response.write(b"<p>start</p>")
            await self.release.wait()
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then a trickle that never ends until released."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while not self.release.is_set():
                await response.write(b"<p>still coming</p>\n")
                await asyncio.sleep(0.05)
        except (ConnectionResetError, RuntimeError):
            pass
        return response
