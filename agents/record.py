"""The run recorder: node outputs, tool and LLM calls go to the ledger's run log as they
happen (and from there into the audit chain)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.ledger.runlog import RunLog
    from core.llm import LLMCall


class RunRecorder:
    def __init__(self, runlog: RunLog, run_id: str) -> None:
        self.runlog = runlog
        self.run_id = run_id

    def event(self, node: str, kind: str, payload: Mapping[str, Any]) -> None:
        self.runlog.append(self.run_id, node, kind, payload)

    def llm_call(self, call: LLMCall) -> None:
        self.event("llm", "llm_call", call.model_dump(mode="json"))
