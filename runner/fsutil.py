"""Writing files so that a reader never sees half of one.

Every file that another step reads (state, shards, merged results) is written
to a temporary file in the same folder and renamed over the target, so a
crash leaves either the old file or the new one.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path

# mkstemp makes files only their owner can read; what we write is meant to be shared.
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb", **open_args):
    """A file to write `path` through: renamed over it when the block ends, removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj, indent: int = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True) + "\n")
