"""The agent graph: the one place that knows the edges.

    gather → analyst → forecaster → policy → proposer → risk_gate ─┬→ approval → execute → explain
                                                ▲                   ├→ execute (auto mode)
                                                └── once, smaller ──┤
                                                                    └→ explain (nothing to do)

Agents propose, the risk officer disposes: every path to ``execute`` passes
``risk_gate`` (and ``execute`` checks again, fresh, before sending).
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agents.context import AgentContext
from agents.nodes.analyst import analyst
from agents.nodes.approval import approval
from agents.nodes.execute import execute
from agents.nodes.explain import explain
from agents.nodes.forecaster import forecaster
from agents.nodes.gather import gather
from agents.nodes.policy import policy
from agents.nodes.proposer import proposer
from agents.nodes.risk_gate import risk_gate
from agents.state import AgentState

NODES = ("gather", "analyst", "forecaster", "policy", "proposer", "risk_gate", "approval",
         "execute", "explain")  # fmt: skip
MAX_ROUNDS = 2  # the proposal, and one smaller retry after a denial


def after_gate(state: AgentState) -> Literal["proposer", "approval", "execute", "explain"]:
    verdicts = state.get("verdicts", [])
    if not verdicts:
        return "explain"
    if any(not v["approved"] for v in verdicts):
        if state.get("round", 1) < MAX_ROUNDS and not state.get("human_approved"):
            return "proposer"
        return "explain"  # a second denial ends the run with no trade
    if state.get("human_approved") or state["request"].get("mode") == "auto":
        return "execute"
    return "approval"


def after_approval(state: AgentState) -> Literal["risk_gate", "execute", "explain"]:
    decision = state.get("approval") or {}
    if decision.get("action") != "approve":
        return "explain"
    return "risk_gate" if decision.get("quantity") is not None else "execute"


def build_graph(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[AgentState, AgentContext, AgentState, AgentState]:
    graph = StateGraph(AgentState, context_schema=AgentContext)
    for name, node in (
        ("gather", gather),
        ("analyst", analyst),
        ("forecaster", forecaster),
        ("policy", policy),
        ("proposer", proposer),
        ("risk_gate", risk_gate),
        ("approval", approval),
        ("execute", execute),
        ("explain", explain),
    ):
        graph.add_node(name, node)  # fmt: skip
    graph.add_edge(START, "gather")
    graph.add_edge("gather", "analyst")
    graph.add_edge("analyst", "forecaster")
    graph.add_edge("forecaster", "policy")
    graph.add_edge("policy", "proposer")
    graph.add_edge("proposer", "risk_gate")
    graph.add_conditional_edges("risk_gate", after_gate)
    graph.add_conditional_edges("approval", after_approval)
    graph.add_edge("execute", "explain")
    graph.add_edge("explain", END)
    return graph.compile(checkpointer=checkpointer)
