"""Files a user attaches to a slash command (an ``attachment`` option), kept by the fake and
served from its CDN path as Discord's CDN serves them, so the bot downloads them with
``Attachment.read()`` over HTTP as it would on Discord."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .world import World

JSON = dict[str, Any]
CDN = "/attachments"


@dataclass(frozen=True)
class UserFile:
    """A file a user uploaded; pass it as an ``attachment`` option's value."""

    id: int
    filename: str
    data: bytes
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def path(self) -> str:
        return f"{CDN}/{self.id}/{quote(self.filename)}"


class UploadStore:
    def __init__(self, world: World) -> None:
        self.world = world
        self.files: dict[int, UserFile] = {}
        self.downloads: dict[int, int] = {}  # file id -> times the bot fetched it

    def add(self, filename: str, data: bytes, content_type: str | None = None) -> UserFile:
        if not filename or "/" in filename:
            raise ValueError(f"{filename!r} is not a file name Discord accepts")
        file = UserFile(self.world.new_id(), filename, data, content_type)
        self.files[file.id] = file
        return file

    def download(self, file_id: int) -> UserFile | None:
        file = self.files.get(file_id)
        if file is not None:
            self.downloads[file_id] = self.downloads.get(file_id, 0) + 1
        return file


def attachment_payload(file: UserFile, base_url: str) -> JSON:
    """An attachment as discord.py's ``Attachment`` reads it (``interaction.data.resolved``)."""
    url = base_url + file.path()
    data: JSON = {
        "id": str(file.id),
        "filename": file.filename,
        "size": file.size,
        "url": url,
        "proxy_url": url,
        "ephemeral": True,  # an option's attachment is ephemeral until a message uses it
    }
    if file.content_type is not None:
        data["content_type"] = file.content_type
    return data
