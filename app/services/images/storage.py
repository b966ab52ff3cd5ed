"""Where image files live: a small interface with a local-directory backend (the default).

Keys are made here from ids and a random token, never from user input, and are checked again on every read,
so no path can leave the storage root. Serving goes through the writer's image route, which checks tenancy.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)
_KEY = re.compile(r"^[0-9]{1,12}/[0-9]{1,12}/[0-9a-f]{32}\.(webp|jpg|png)$")
EXTENSIONS = {"image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}


class StorageError(RuntimeError):
    """A file could not be stored or read."""


class Storage:
    """Put, get and delete image bytes by key."""

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


class LocalStorage(Storage):
    """Files under one directory (IMAGE_STORAGE_DIR); writes are atomic (temporary file, then rename)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key or ""):
            raise StorageError("not a storage key")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError("the file is missing") from None

    def delete(self, key: str) -> None:
        """Remove a file; one already missing is fine, and a failure is logged, never raised (callers delete
        after their commit, when the row no longer points at the file)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except StorageError:
            pass
        except OSError:
            log.warning("Could not delete image file %s", key, exc_info=True)


BACKENDS: dict[str, type[Storage]] = {"local": LocalStorage}


def storage() -> Storage:
    """The configured storage backend."""
    kind = current_app.config.get("IMAGE_STORAGE", "local")
    if kind not in BACKENDS:
        raise StorageError(f"unknown image storage {kind!r}")
    return BACKENDS[kind](current_app.config["IMAGE_STORAGE_DIR"])


def new_key(*, account_id: int, site_id: int, mime: str) -> str:
    """A fresh key for an image of this account and site."""
    return f"{int(account_id)}/{int(site_id)}/{secrets.token_hex(16)}.{EXTENSIONS[mime]}"
