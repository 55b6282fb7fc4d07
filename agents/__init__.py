"""The agents: one LangGraph graph in which agents propose and the risk officer disposes.

    from agents import build_graph, AgentRunner, RunRequest

The graph (``agents.graph``) is the one entry point the CLI, the API, the chat and the
autopilot share, through ``app/services/runs``. Importing this package is cheap; LangGraph
is imported on first use of the graph, the runner or a node.
"""

from __future__ import annotations

from typing import Any

from agents.models import (
    OFFLINE_LABEL,
    AnalystReport,
    ApprovalDecision,
    Citation,
    Finding,
    ForecastSignal,
    PolicySignal,
    ProposalSet,
    RiskVerdict,
    RunRequest,
    Snapshot,
    TradeProposal,
)

_LAZY = {
    "build_graph": "agents.graph",
    "AgentRunner": "agents.runner",
    "RunResult": "agents.runner",
    "AgentContext": "agents.context",
    "RulesConfig": "agents.context",
    "open_checkpointer": "agents.checkpoint",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")


__all__ = [
    "OFFLINE_LABEL",
    "AgentContext",
    "AgentRunner",
    "AnalystReport",
    "ApprovalDecision",
    "Citation",
    "Finding",
    "ForecastSignal",
    "PolicySignal",
    "ProposalSet",
    "RiskVerdict",
    "RulesConfig",
    "RunRequest",
    "RunResult",
    "Snapshot",
    "TradeProposal",
    "build_graph",
    "open_checkpointer",
]
