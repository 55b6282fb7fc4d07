"""Small helpers the nodes share: the run's context, progress lines and records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from agents.context import AgentContext


def ctx_of(runtime: Runtime[AgentContext]) -> AgentContext:
    context = runtime.context
    if context is None:
        raise RuntimeError("the agent graph needs an AgentContext (graph.invoke(context=...))")
    return context


def progress(node: str, status: str, summary: str = "") -> None:
    """A progress line for whoever streams the run (CLI stderr, API events, chat)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit tests of a node's helpers)
        return
    writer({"node": node, "status": status, "summary": summary})


def record(ctx: AgentContext, node: str, kind: str, payload: Mapping[str, Any]) -> None:
    ctx.recorder.event(node, kind, payload)
