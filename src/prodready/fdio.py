"""Reading and writing through file descriptors, for the scan's files and its helper processes."""

from __future__ import annotations

import os
import select
import time

_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in never blocks


def read_capped(path: str, cap: int) -> bytes:
    """At most ``cap`` bytes of a file, read with a buffer the size of the file: ``open().read(cap)``
    allocates ``cap`` bytes first, which for a 50 MB cap costs more than reading a small file. A file that
    grows while it is read is read on, up to ``cap``."""
    fd = os.open(path, _O_READ)
    try:
        want = min(os.fstat(fd).st_size + 1, cap)
        data = os.read(fd, want)
        if len(data) < want or len(data) >= cap:
            return data
        parts, got = [data], len(data)
        while got < cap:
            chunk = os.read(fd, min(cap - got, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """All of ``data``: a write to a pipe or a full disk may take part of it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_all(fd: int, deadline: float | None = None) -> bytes:
    """Everything until end of file; past ``deadline`` (time.monotonic), TimeoutError."""
    chunks = []
    while True:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no answer in time")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
