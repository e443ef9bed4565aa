"""Per-choice metrics from stored log-likelihoods (METHODS E1), against values worked by hand."""

from __future__ import annotations

import math

import pytest

from evals.choices import METRICS, ChoiceMetrics, aggregate, item_metrics

# Three choices; "éééé" is 4 characters but 8 UTF-8 bytes, so the normalisations disagree:
#   by log-likelihood   [-2.0, -1.5, -3.0]      -> argmax 1
#   per character /4,1,4 [-0.5, -1.5, -0.75]    -> argmax 0
#   per byte      /4,1,8 [-0.5, -1.5, -0.375]   -> argmax 2
LL = [-2.0, -1.5, -3.0]
CHOICES = ["aaaa", "b", "éééé"]


def _softmax(ll: list[float]) -> list[float]:
    z = sum(math.exp(x) for x in ll)
    return [math.exp(x) / z for x in ll]


@pytest.mark.parametrize(("gold", "acc", "acc_norm", "acc_bytes"), [(0, 0, 1, 0), (1, 1, 0, 0),
                                                                     (2, 0, 0, 1)])  # fmt: skip
def test_item_metrics_hand_computed(
    gold: int, acc: float, acc_norm: float, acc_bytes: float
) -> None:
    m = item_metrics(LL, CHOICES, gold)
    p = _softmax(LL)
    nbytes = [4, 1, 8][gold]
    assert (m.acc, m.acc_norm, m.acc_bytes) == (acc, acc_norm, acc_bytes)
    assert m.logprob_correct == LL[gold]
    assert m.p_vocab_correct == pytest.approx(math.exp(LL[gold]), rel=1e-15)
    assert m.p_choices == pytest.approx(p, rel=1e-12)
    assert m.p_choices_correct == pytest.approx(p[gold], rel=1e-12)
    brier = sum((pi - (i == gold)) ** 2 for i, pi in enumerate(p)) / 3  # mean over choices
    assert m.brier == pytest.approx(brier, rel=1e-12)
    assert m.bpb == pytest.approx(-LL[gold] / (math.log(2) * nbytes), rel=1e-12)
    assert m.to_dict()["p_choices"] == m.p_choices and m.to_dict()["bpb"] == m.bpb


def test_softmax_is_stable_and_ties_go_to_the_first_choice() -> None:
    m = item_metrics([-1000.0, -1000.0 - math.log(3)], ["a", "b"], 0)  # exp underflows unshifted
    assert m.p_choices == pytest.approx((0.75, 0.25), rel=1e-12)
    assert item_metrics([-1.0, -1.0], ["a", "b"], 0).acc == 1.0  # numpy.argmax: lowest index
    assert item_metrics([-1.0, -1.0], ["a", "b"], 1).acc == 0.0


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # acc_norm divides by 0 chars
def test_empty_gold_string_has_no_bpb() -> None:
    assert math.isnan(item_metrics([-1.0, -2.0], ["", "b"], 0).bpb)


@pytest.mark.parametrize(
    ("ll", "choices", "gold"),
    [([-1.0], ["a", "b"], 0), ([-1.0, -2.0], ["a", "b"], 2), ([-1.0, -2.0], ["a", "b"], -1)],
)
def test_item_metrics_refuses_mismatched_input(
    ll: list[float], choices: list[str], gold: int
) -> None:
    with pytest.raises(ValueError, match=rf"{len(ll)} log-probs for 2 choices, gold={gold}"):
        item_metrics(ll, choices, gold)


def _metrics(value: float) -> ChoiceMetrics:
    """Every metric set to ``value`` except bpb = 2 * value."""
    fields = dict.fromkeys(METRICS, value) | {"bpb": 2 * value}
    return ChoiceMetrics(**fields, p_choices=(value,))


def test_aggregate_means_and_standard_errors() -> None:
    out = aggregate([_metrics(0.0), _metrics(1.0), _metrics(2.0)])
    assert set(out) == {"n_items"} | set(METRICS) | {f"{k}_stderr" for k in METRICS}
    assert out["n_items"] == 3.0
    # values 0, 1, 2: mean 1, sample sd 1, s.e. 1/sqrt(3); bpb doubles both
    assert out["acc"] == 1.0 and out["acc_stderr"] == pytest.approx(1 / math.sqrt(3), rel=1e-12)
    assert out["bpb"] == 2.0 and out["bpb_stderr"] == pytest.approx(2 / math.sqrt(3), rel=1e-12)
    one = aggregate([_metrics(0.5)])
    assert one["brier"] == 0.5 and math.isnan(one["brier_stderr"])
    empty = aggregate([])
    assert empty["n_items"] == 0.0 and math.isnan(empty["acc"]) and math.isnan(empty["acc_stderr"])


def test_length_normalisation_can_pick_a_later_choice() -> None:
    m = item_metrics([-2.0, -3.0], ["a", "bbbbbbbb"], 1)  # per char: [-2, -0.375]
    assert (m.acc, m.acc_norm, m.acc_bytes) == (0.0, 1.0, 1.0)


def test_aggregate_of_two_items_has_a_standard_error() -> None:
    out = aggregate([_metrics(0.0), _metrics(1.0)])
    # values 0, 1: sample sd sqrt(1/2), s.e. sqrt(1/2)/sqrt(2) = 0.5
    assert out["acc"] == 0.5 and out["acc_stderr"] == pytest.approx(0.5, rel=1e-12)
