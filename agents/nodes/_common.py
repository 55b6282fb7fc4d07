"""Small helpers the nodes share: the run's context, progress lines and records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime, get_runtime

from agents.context import AgentContext


def ctx_of(runtime: Runtime[AgentContext]) -> AgentContext:
    context = runtime.context
    if context is None:
        raise RuntimeError("the agent graph needs an AgentContext (graph.invoke(context=...))")
    return context


def progress(node: str, status: str, summary: str = "") -> None:
    """A progress line for whoever streams the run (CLI stderr, chat), also written to the
    run's record (``node_started`` / ``node_finished``), where the API streams it from.
    Recorded here, in the node's thread, so it lands in order with the node's events."""
    try:
        writer = get_stream_writer()
        context = get_runtime(AgentContext).context
    except RuntimeError:  # called outside a graph run (unit tests of a node's helpers)
        return
    if context is not None:
        context.recorder.event(node, f"node_{status}", {"summary": summary})
    writer({"node": node, "status": status, "summary": summary})


def record(ctx: AgentContext, node: str, kind: str, payload: Mapping[str, Any]) -> None:
    ctx.recorder.event(node, kind, payload)
