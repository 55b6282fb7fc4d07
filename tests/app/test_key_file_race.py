"""Processes starting together on a new state folder (two queue workers, a worker and the
API) agree on one audit key; none fails with "File exists" or reads half a key."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from app.bootstrap import _key_file


def _read_key(path: str, start: object, out: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    try:
        out.put(_key_file(Path(path)).hex())  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the test, which fails on it
        out.put(f"error: {type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def test_eight_processes_create_the_key_at_once_then_all_read_the_same_whole_key(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = tmp_path / f"state-{attempt}" / "audit.key"
        start, out = context.Barrier(8), context.Queue()
        workers = [
            context.Process(target=_read_key, args=(str(path), start, out)) for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        keys = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert not [k for k in keys if k.startswith("error")], keys
        assert len(set(keys)) == 1 and len(bytes.fromhex(keys[0])) == 32
        assert path.read_bytes().hex() == keys[0]
        assert [p.name for p in path.parent.iterdir()] == ["audit.key"], "a draft was left"
        assert path.stat().st_mode & 0o777 == 0o600
