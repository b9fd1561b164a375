"""Scene 13's workload cards (simcore/scenarios/cards.py): verdicts come from data, each citing a scene."""
import pytest

from simcore import scenarios
from simcore.scenarios import cards


def test_the_recommendations():
    assert cards.recommend("order fulfilment") == ["workflow"]
    assert cards.recommend("nightly warehouse refresh") == ["dag"]
    assert cards.recommend("short approval flow") == ["workflow", "dag", "state_machine"]   # Airflow 3.1+: HITL
    assert cards.recommend("monthly subscription") == ["workflow"]


@pytest.mark.parametrize("card", cards.CARDS)
def test_a_verdict_is_the_worst_answer_and_every_answer_cites_a_scene(card):
    for m in cards.MODELS:
        verdict, answers = cards.verdict(card, m)
        assert verdict == max((a[1] for a in answers), key=cards.RANK.get)
        for requirement, answer, why, scene in answers:
            assert int(scene) in scenarios.MODULES and why


def test_changing_the_data_changes_the_verdict(monkeypatch):
    monkeypatch.setitem(cards.MODELS["dag"], "long waits", (cards.FITS, "say a DAG could"))
    monkeypatch.setitem(cards.MODELS["dag"], "external messages", (cards.FITS, "say a DAG could"))
    monkeypatch.setitem(cards.MODELS["dag"], "compensation", (cards.FITS, "say a DAG could"))
    assert "dag" in cards.recommend("order fulfilment")


def test_every_model_answers_every_requirement():
    for m, answers in cards.MODELS.items():
        assert set(answers) == set(cards.REQUIREMENTS), m
