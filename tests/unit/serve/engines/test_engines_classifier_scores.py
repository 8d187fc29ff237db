"""Classifier logits to seed 002's score and confidence, row by row."""

from __future__ import annotations

import math

import pytest
import torch

from kubetune.serve.engines.classifier import positive_index, scores_from_logits

pytestmark = pytest.mark.unit


def test_binary_head_scores_the_positive_class_whatever_its_index() -> None:
    # Row 0: P(class 1) = 0.75; row 1: P(class 1) = 0.25.
    logits = torch.tensor([[0.0, math.log(3)], [math.log(3), 0.0]])
    first, second = scores_from_logits(logits, {0: "positive", 1: "negative"})
    assert (first.score, first.confidence, first.label) == (0.25, 0.75, "negative")
    assert (second.score, second.confidence, second.label) == (0.75, 0.75, "positive")
    assert positive_index({0: "negative", 1: "positive"}) == 1
    assert positive_index({0: "LABEL_0", 1: "LABEL_1"}) == 1


def test_multi_class_head_scores_the_top_class_and_names_unknown_labels_by_index() -> None:
    logits = torch.tensor([[0.0, 0.0, math.log(2)], [math.log(6), 0.0, math.log(3)]])
    first, second = scores_from_logits(logits, {0: "a", 1: "b", 3: "d"})
    assert (first.score, first.confidence, first.label) == (0.5, 0.5, "2")
    assert (second.score, second.confidence, second.label) == (0.6, 0.6, "a")


def test_scores_are_plain_rounded_floats() -> None:
    [result] = scores_from_logits(torch.tensor([[0.1234567, 0.7654321]]), {0: "no", 1: "yes"})
    assert type(result.score) is float and type(result.confidence) is float
    assert result.score == round(result.score, 6)
    assert result.score == result.confidence
