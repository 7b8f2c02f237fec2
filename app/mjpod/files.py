"""Files mjpod reads from users and writes for them, trusting nothing that already sits at the path.

Reading (a sweep spec, a bench result, a job record read back): a regular file only, and at most
`limit` bytes of it, checked on the open file before anything is read. A link to /dev/zero, a FIFO
(which would block forever) or a file of gigabytes is refused by name, never read; what mjpod reads
back from its own output folders must not be a link at all.

Writing: the whole file goes to a temporary name made fresh beside it (created with O_EXCL, so a
link someone planted at that name is never followed), then replaces the final name in one step. A
link planted at the final name is replaced, never written through; a reader sees the old file or the
new one, never a part. Anyone who can write to a shared output folder can plant links in it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import reprlib
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from mjpod.errors import MjpodError

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 8
_SHORT.maxlevel = 3
_SHORT.maxlong = 40


class FileRefused(MjpodError, ValueError):
    """A file that is not a regular file of a sane size; the message names it and says why."""


def short(value: object) -> str:
    """repr(value) cut to a line: what an error message quotes of a value it did not choose."""
    return _SHORT.repr(value)


def open_regular(path: Path, what: str, follow: bool = True) -> BinaryIO:
    """`path` opened for reading once it shows to be a regular file (checked on the open file, so it
    cannot be swapped in between; a FIFO is opened without waiting for a writer). `what` names it in
    messages ("the sweep spec"). `follow=False` refuses a link: for files mjpod reads back from a
    folder others may write to, where a planted link would copy the file it points to into mjpod's
    output. FileNotFoundError passes through (callers decide what missing means); anything else that
    is wrong is a FileRefused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP and not follow:
            raise FileRefused(
                f"{what} {path} is a link: mjpod reads back only files it wrote there"
            ) from None
        raise FileRefused(f"cannot read {what} {path}: {err.strerror or err}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileRefused(f"{what} {path} is {_kind(mode)}, not a regular file: give the file itself")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, limit: int, what: str, follow: bool = True) -> bytes:
    """The bytes of the regular file `path` (see `open_regular`), refused when more than `limit`."""
    with open_regular(path, what, follow) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise FileRefused(_too_big(what, path, size, limit))
        data = f.read(limit + 1)  # the file may have grown since
    if len(data) > limit:
        raise FileRefused(_too_big(what, path, len(data), limit))
    return data


def read_text(path: Path, limit: int, what: str, follow: bool = True) -> str:
    """`read_bytes` decoded as UTF-8 (a FileRefused when it is not text)."""
    try:
        return read_bytes(path, limit, what, follow).decode()
    except UnicodeDecodeError as err:
        raise FileRefused(f"{what} {path} is not UTF-8 text (byte {err.start}): give a text file") from None


def _too_big(what: str, path: Path, size: int, limit: int) -> str:
    return f"{what} {path} holds {size:,} bytes, more than the {limit:,} mjpod reads: is it the right file?"


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """An open file whose content replaces `path` in one step when the block ends without an error
    (else it is removed). Created with O_EXCL under a fresh random name in `path`'s folder, with the
    permissions a plain open would give (0666 less the umask)."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # someone holds that name (or planted a link there): draw another
            continue
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    """Replace `path` with `text` in one step (see `replacing`)."""
    with replacing(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
