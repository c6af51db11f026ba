"""A variable in a dotenv file, rewritten in place: atomically, privately, leaving no copy.

Every other line (comments, blank lines, other variables, `export`, CRLF endings) is
kept byte for byte. Each assignment of the variable gets the new value in the quotes
it had; a file without one gets a line appended. The new file is written to a temp
file in the same directory (mode 0600), fsynced, and renamed over the old one, so a
reader sees the old file or the new one, never half of one; on any failure the temp
file is removed. No backup is made: a backup would be one more copy of a key.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

MODE = 0o600
#: A dotenv file keyturn will read whole (a key file is small; a 10 MB one is a mistake).
SIZE_CAP = 1024 * 1024


class DotenvError(Exception):
    """The file could not be rewritten; the message names the file, never a value."""


def assignment(variable: str) -> re.Pattern[bytes]:
    """`VAR=…`, `export VAR = …` at the start of a line (never a commented-out one)."""
    return re.compile(rb"^(\s*(?:export\s+)?" + re.escape(variable.encode()) + rb"\s*=[ \t]*)")


def _rewrite(line: bytes, head: bytes, value: bytes) -> bytes:
    """`line` (an assignment whose start is `head`) with its value replaced by `value`."""
    body = line[len(head):]
    ending = body[len(body.rstrip(b"\r\n")):]
    body = body[: len(body) - len(ending)]
    if body[:1] in (b'"', b"'"):
        quote = body[:1]
        close = body.find(quote, 1)
        if close < 0:
            raise DotenvError("its value is a quoted value that goes on past the line")
        return head + quote + value + quote + body[close + 1:] + ending
    comment = re.search(rb"\s#", body)  # `VAR=value  # note`: the note stays
    rest = body[comment.start():] if comment else b""
    return head + value + rest + ending


def rewritten(text: bytes, variable: str, raw: str) -> tuple[bytes, int]:
    """The file's bytes with every assignment of `variable` set to `raw`, and how many
    lines were changed (0: a line was appended)."""
    value = raw.encode()
    pattern = assignment(variable)
    lines = text.splitlines(keepends=True)
    changed = 0
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if match:
            lines[i] = _rewrite(line, match.group(1), value)
            changed += 1
    if not changed:
        newline = b"\r\n" if b"\r\n" in text else b"\n"
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            lines[-1] += newline
        lines.append(variable.encode() + b"=" + value + newline)
    return b"".join(lines), changed


def write_dotenv(path: str, variable: str, raw: str) -> str:
    """Set `variable` to `raw` in the dotenv file at `path`; say what was done (the
    destination's label names the file).

    A symlink is followed (the file it points to is rewritten). A missing file is an
    error, not a new file: the app reads an existing one, so a missing one is a wrong path.
    """
    target = Path(os.path.realpath(Path(path).expanduser()))
    try:
        info = target.stat()
        if info.st_size > SIZE_CAP:
            raise DotenvError(f"{path}: over {SIZE_CAP // 1024} KiB; not a dotenv file?")
        text = target.read_bytes()
    except FileNotFoundError:
        raise DotenvError(f"{path}: no such file (keyturn rewrites an existing file)") from None
    except IsADirectoryError:
        raise DotenvError(f"{path}: is a directory") from None
    except OSError as exc:
        raise DotenvError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        data, changed = rewritten(text, variable, raw)
    except DotenvError as exc:
        raise DotenvError(f"{path}: {variable}: {exc}; not rewritten") from None
    _replace(target, data, info)
    if changed:
        return f"{variable} set" + (f" ({changed} lines)" if changed > 1 else "")
    return f"{variable} added (the file did not set it)"


def _replace(target: Path, data: bytes, info: os.stat_result) -> None:
    """Write `data` to a temp file beside `target`, fsync it, rename it over `target`."""
    fd, temp = -1, ""
    try:
        fd, temp = tempfile.mkstemp(prefix=".keyturn-", suffix=".tmp", dir=target.parent)
        os.fchmod(fd, MODE)
        if info.st_uid != os.geteuid() or info.st_gid != os.getegid():
            # Kept, or the app that reads the file may lose it (root writing an app's .env).
            os.fchown(fd, info.st_uid, info.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, target)
        temp = ""
        _sync_dir(target.parent)
    except OSError as exc:
        raise DotenvError(f"{target}: cannot write: {exc.strerror or type(exc).__name__}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if temp:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _sync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
