"""The LLM path of sentiment scoring, against the fake OpenAI-compatible server on a real
socket: the sentences go out numbered with the labelling rule, each verdict comes back
as probabilities, an incomplete answer is sent back, and the CLI says what to configure
when no LLM is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.llm import build_chat_model
from app.cli import app
from core.llm import LLMSession
from core.settings import load_settings
from tests.fakes.openai_server import FakeOpenAI, ScriptedLLM, Structured, llm_overrides
from tools.sentiment import Example, LLMScorer, fit_llm_temperature, score

SENTENCES = [
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
    "The annual general meeting will be held on April 18.",
]


def _verdicts(*rows: tuple[int, str, float]) -> Structured:
    return Structured({"verdicts": [{"n": n, "label": lab, "confidence": c} for n, lab, c in rows]})


def _scorer(server: FakeOpenAI, tmp_path: Path) -> LLMScorer:
    settings = load_settings(state_dir=tmp_path, **llm_overrides(server))
    chat = build_chat_model(settings, retry_backoff_s=0.01)
    return LLMScorer(LLMSession.from_settings(chat, settings))


def test_llm_scorer_then_numbered_sentences_out_and_verdicts_back_as_probabilities(
    tmp_path: Path,
) -> None:
    script = ScriptedLLM([_verdicts((2, "neutral", 0.8), (1, "positive", 0.9))])
    with FakeOpenAI(script, api_key="sk-test") as server:
        results = score(SENTENCES, scorer=_scorer(server, tmp_path))

    assert [r.label for r in results] == ["positive", "neutral"]
    assert results[0].confidence == pytest.approx(0.9)
    assert results[0].scores["negative"] == pytest.approx(0.05)
    assert results[0].model == "llm:test-model"
    sent = json.dumps(script.requests[0]["messages"])
    assert "1. Operating profit rose to EUR 13.1 mn from EUR 8.7 mn." in sent
    assert "2. The annual general meeting" in sent and "risk-factor hedging" in sent


def test_llm_answer_missing_a_sentence_then_sent_back_with_the_problem(tmp_path: Path) -> None:
    script = ScriptedLLM(
        [_verdicts((1, "positive", 0.9)), _verdicts((1, "positive", 0.9), (2, "neutral", 0.7))]
    )
    with FakeOpenAI(script, api_key="sk-test") as server:
        probabilities = _scorer(server, tmp_path).predict_proba(SENTENCES)

    assert len(script.requests) == 2
    assert "no verdict for sentence(s) [2]" in json.dumps(script.requests[1]["messages"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[1].argmax() == 1


def test_cli_sentiment_model_llm_then_the_configured_model_labels_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = ScriptedLLM([_verdicts((1, "negative", 0.75))])
    with FakeOpenAI(script, api_key="sk-test") as server:
        monkeypatch.setenv("TILLER_STATE_DIR", str(tmp_path))
        monkeypatch.setenv("TILLER_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("TILLER_LLM_MODEL", "test-model")
        monkeypatch.setenv("TILLER_LLM_API_KEY", "sk-test")
        result = CliRunner().invoke(
            app, ["kb", "sentiment", "Net debt rose to EUR 540 mn.", "--model", "llm", "--json"]
        )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "label": "negative",
        "confidence": 0.75,
        "scores": {"negative": 0.75, "neutral": 0.125, "positive": 0.125},
        "model": "llm:test-model",
    }


def test_cli_sentiment_model_llm_without_an_llm_then_exit_2_saying_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLER_STATE_DIR", str(tmp_path))
    for name in ("TILLER_LLM_BASE_URL", "TILLER_LLM_MODEL", "TILLER_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    result = CliRunner().invoke(app, ["kb", "sentiment", "Sales rose.", "--model", "llm"])

    assert result.exit_code == 2
    assert "TILLER_LLM_BASE_URL" in result.stderr


def test_llm_temperature_fitted_on_labelled_sentences_then_overstated_confidence_shrinks(
    tmp_path: Path,
) -> None:
    labelled = [
        Example("c1", "Net sales fell to EUR 58 mn from EUR 66 mn.", "negative", "calib", "t"),
        Example("c2", "The meeting will be held on April 18.", "neutral", "calib", "t"),
        Example("c3", "Orders rose 4%, lagging the market.", "negative", "calib", "t"),
        Example("c4", "The board approved the accounts.", "neutral", "calib", "t"),
    ]
    # The model says 0.95 every time but is right on only half of them.
    overstated = _verdicts(
        (1, "negative", 0.95), (2, "neutral", 0.95), (3, "positive", 0.95), (4, "positive", 0.95)
    )
    script = ScriptedLLM([overstated, _verdicts((1, "negative", 0.95), (2, "neutral", 0.6))])
    with FakeOpenAI(script, api_key="sk-test") as server:
        stated = _scorer(server, tmp_path)
        temperature = fit_llm_temperature(stated, labelled)
        calibrated = LLMScorer(stated.session, temperature=temperature)
        probabilities = calibrated.predict_proba(SENTENCES)

    assert temperature > 1.5
    # Labels stay; the confidence moves towards the 50% the model earned.
    assert probabilities.argmax(axis=1).tolist() == [0, 1]
    assert 0.4 < probabilities[0, 0] < 0.8
    assert probabilities[1, 1] < 0.6
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="temperature"):
        LLMScorer(stated.session, temperature=0.0)
