"""The audit chain's head, recorded outside the database.

Whoever can write the database can delete its last entries and move the head row back,
or empty the log and reset the head to genesis; nothing inside the database can tell.
A small file in the state folder remembers the highest ``(seq, hash)`` this machine has
appended or verified, and verification requires that entry to still be in the chain.

The file only moves forward (several processes append; a slower one must not record an
older head over a newer one), under an advisory lock, and is replaced atomically: write
a temporary file, fsync it, rename it over the old one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class AnchorUnreadableError(ValueError):
    """The head file exists but does not hold a head (edited, truncated, not ours)."""


@dataclass(frozen=True, slots=True)
class RecordedHead:
    seq: int
    hash: str


def head_file_path(state_dir: Path, ledger_label: str) -> Path:
    """One file per ledger (``ledger_label``: its URL without password), so pointing
    Tiller at another database never compares it with this one's head."""
    digest = hashlib.sha256(ledger_label.encode("utf-8")).hexdigest()[:16]
    return Path(state_dir) / "audit-heads" / f"{digest}.json"


class HeadFile:
    """Reads and advances the recorded head of one ledger's audit chain."""

    def __init__(self, path: Path, *, ledger_label: str = "") -> None:
        self.path = Path(path)
        self.ledger_label = ledger_label

    def read(self) -> RecordedHead | None:
        """The recorded head, or None when nothing was recorded yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise AnchorUnreadableError(f"cannot read {self.path}: {exc}") from None
        try:
            data = json.loads(text)
            head = RecordedHead(int(data["seq"]), str(data["hash"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise AnchorUnreadableError(f"{self.path} does not hold a head ({exc})") from None
        if head.seq < 0 or len(head.hash) != 64:
            raise AnchorUnreadableError(f"{self.path} does not hold a head")
        return head

    def advance(self, seq: int, digest: str) -> bool:
        """Record ``(seq, digest)`` if it is newer than what is recorded; return whether
        it was written. An unreadable file is left alone (it is evidence; ``verify``
        reports it) rather than overwritten."""
        with self._locked():
            try:
                current = self.read()
            except AnchorUnreadableError:
                return False
            if current is not None and current.seq >= seq:
                return False
            self._write(seq, digest)
        return True

    def reset(self, seq: int, digest: str) -> None:
        """Record ``(seq, digest)`` whatever was recorded: only for a head a human has
        acknowledged (``AuditLog.acknowledge``)."""
        with self._locked():
            self._write(seq, digest)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, seq: int, digest: str) -> None:
        body = json.dumps({"ledger": self.ledger_label, "seq": seq, "hash": digest}, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=".head.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # No fsync of the folder (it would double the cost of every append): a rename
        # lost to a power cut leaves the previous head, an older but still true record.
