"""The offline reasoner: a deterministic rule that turns the same signals an LLM would
read into proposals. Every output is labelled "offline rules, no LLM".

The rule, per symbol:
1. Signals, each scaled to [-1, 1], with a weight that matches its evidence:
   - trend: 10 x (close / 200-bar average - 1), clipped (a rule of thumb for time-series
     momentum, not a fitted model), weight 1;
   - forecast: median forecast return / forecast sigma, clipped; weight 1 if its card shows
     it beat a random walk out of sample, 0.25 if not, 0 if it was trained on bars after
     the run's as-of (that would be look-ahead);
   - policy: its target position (-1, 0, 1); weight 1 if its test window was significantly
     better than buy-and-hold, 0.25 if not, 0 if trained on later bars;
   - news tone: mean P(positive) - P(negative) of retrieved news, weight 0.5 when there is
     news; filings tone: the same over the cited findings, weight 0.25.
2. score = weighted mean of the signals.
3. Target weight of equity: 0 if score <= -0.5 (exit); otherwise
   neutral x (1 + score), capped at max_weight. With no view at all the account holds the
   neutral weight (5 % by default) — a strategic allocation the signals tilt.
4. Trade the difference to the target if it exceeds the rebalance band (1 % of equity),
   in whole lots, long only (spot accounts cannot short), by market order (the risk
   officer turns it into a protected limit).
5. After a denial, the retry is the same order at half the quantity, and only when the
   reasons are about size; a denial for anything else (halted, stale quote, symbol not
   allowed) ends the run with no trade.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal
from typing import Any

from agents.context import RulesConfig
from agents.models import OFFLINE_LABEL, ProposalSet, TradeProposal
from core.types import Symbol

SIZE_CODES = frozenset({
    "MAX_ORDER_QTY", "MAX_ORDER_NOTIONAL", "MAX_POSITION", "MAX_GROSS_EXPOSURE",
    "MAX_NET_EXPOSURE", "INSUFFICIENT_BALANCE",
})  # fmt: skip


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x)) if math.isfinite(x) else 0.0


def signals(
    snap: dict[str, Any],
    analysis: dict[str, Any] | None,
    forecast: dict[str, Any] | None,
    policy: dict[str, Any] | None,
) -> list[tuple[str, float, float, str]]:
    """(name, value in [-1, 1], weight, why) for every signal available."""
    out: list[tuple[str, float, float, str]] = []
    close = float(snap["quote"]["last"])
    if snap.get("sma_200"):
        value = _clip(10 * (close / snap["sma_200"] - 1))
        out.append(
            ("trend", value, 1.0, f"close {close:.2f} vs 200-bar mean {snap['sma_200']:.2f}")
        )
    if forecast:
        sigma = forecast["volatility"] or float("nan")
        value = _clip(forecast["median_log_return"] / sigma)
        weight = 0.0 if forecast["uses_future_data"] else (1.0 if forecast["has_edge"] else 0.25)
        out.append(("forecast", value, weight, forecast["note"]))
    if policy:
        weight = 0.0 if policy["uses_future_data"] else (1.0 if policy["has_edge"] else 0.25)
        out.append(("policy", float(policy["target_position"]), weight, policy["note"]))
    if analysis and analysis.get("news_sentiment") is not None:
        out.append(("news tone", _clip(analysis["news_sentiment"]), 0.5,
                    f"{analysis['news_items']} news item(s)"))  # fmt: skip
    tones = [f["sentiment_score"] for f in (analysis or {}).get("findings", [])
             if f.get("sentiment_score") is not None]  # fmt: skip
    if tones:
        out.append(("filings tone", _clip(sum(tones) / len(tones)), 0.25,
                    f"{len(tones)} cited finding(s)"))  # fmt: skip
    return out


def score_of(parts: list[tuple[str, float, float, str]]) -> float:
    total = sum(w for _, _, w, _ in parts)
    return sum(v * w for _, v, w, _ in parts) / total if total > 0 else 0.0


def propose(state: dict[str, Any], config: RulesConfig) -> ProposalSet:
    proposals: list[TradeProposal] = []
    lines: list[str] = []
    for symbol, snap in state["snapshots"].items():
        analysis = (state.get("analysis") or {}).get(symbol)
        parts = signals(snap, analysis, (state.get("forecasts") or {}).get(symbol),
                        (state.get("policy") or {}).get(symbol))  # fmt: skip
        score = score_of(parts)
        proposal, line = _size(symbol, snap, analysis, parts, score, config)
        lines.append(line)
        if proposal is not None:
            proposals.append(proposal)
    return ProposalSet(proposals=proposals, summary=f"[{OFFLINE_LABEL}] " + " | ".join(lines))


def _size(
    symbol: str, snap: dict[str, Any], analysis: dict[str, Any] | None,
    parts: list[tuple[str, float, float, str]], score: float, config: RulesConfig,
) -> tuple[TradeProposal | None, str]:  # fmt: skip
    price = Decimal(str(snap["quote"]["last"]))
    equity = Decimal(str(snap["equity"]))
    held = Decimal(str(snap["position"]))
    if score <= config.strong_bearish:
        target_w = Decimal(0)
    else:
        target_w = min(config.neutral_weight * Decimal(str(round(1 + score, 6))), config.max_weight)
    delta_value = target_w * equity - held * price
    explained = ", ".join(f"{n} {v:+.2f}x{w:g}" for n, v, w, _ in parts) or "no signals"
    if score <= config.strong_bearish:
        basis = f"exit: score at or below {config.strong_bearish:+g}"
    else:
        basis = f"the neutral {config.neutral_weight:.0%} tilted by the score"
    head = f"{symbol}: score {score:+.2f} ({explained}); target {target_w:.1%} of equity ({basis})"
    if abs(delta_value) < config.rebalance_band * equity:
        return None, head + " — already within the rebalance band: no trade"
    lot = Decimal("0.00001") if Symbol(symbol).is_pair else Decimal(1)
    qty = (abs(delta_value) / price / lot).to_integral_value(ROUND_DOWN) * lot
    side = "buy" if delta_value > 0 else "sell"
    if side == "sell":
        qty = min(qty, held)
    if qty <= 0:
        return None, head + " — less than one lot to trade: no trade"
    evidence = [c["n"] for c in (analysis or {}).get("evidence", [])]
    rationale = (
        f"[{OFFLINE_LABEL}] {head}; {side} {qty} at about {price} to move from "
        f"{held} held. Signals: " + "; ".join(f"{n}: {why}" for n, _, _, why in parts)
    )
    proposal = TradeProposal(
        symbol=symbol, side=side, quantity=qty, rationale=rationale[:4000], evidence=evidence,
        confidence=min(1.0, abs(score)),
    )  # fmt: skip
    return proposal, head + f" — {side} {qty}"


def retry_smaller(
    proposals: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> tuple[list[TradeProposal], list[str]]:
    """Round two after a denial: half the quantity where the reasons are about size."""
    out: list[TradeProposal] = []
    notes: list[str] = []
    for raw, verdict in zip(proposals, verdicts, strict=True):
        proposal = TradeProposal.model_validate(raw)
        if verdict["approved"]:
            continue  # carried over unchanged by the proposer node
        codes = set(verdict["reason_codes"])
        if not codes <= SIZE_CODES:
            notes.append(f"{proposal.symbol}: denied for {', '.join(sorted(codes - SIZE_CODES))}; "
                         "a smaller order would not help")  # fmt: skip
            continue
        qty = Decimal(verdict["quantity"])
        lot = Decimal("0.00001") if Symbol(proposal.symbol).is_pair else Decimal(1)
        half = (qty / 2 / lot).to_integral_value(ROUND_DOWN) * lot
        if half <= 0:
            notes.append(f"{proposal.symbol}: cannot be made smaller than {qty}")
            continue
        why = ", ".join(sorted(codes))
        out.append(proposal.model_copy(update={
            "quantity": half, "target_weight": None,
            "rationale": f"{proposal.rationale} Retried at half size after {why}.",
        }))  # fmt: skip
    return out, notes
