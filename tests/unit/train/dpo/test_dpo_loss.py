"""kubetune's DPO loss and gradients equal a reference written here from the paper (and TRL's, when
installed) on the same tiny model and batch; packed batches equal padded ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubetune.train.chat_tokens import IGNORE_INDEX
from kubetune.train.dpo.loss import dpo_loss, reward_metrics, sequence_logps
from kubetune.train.dpo.pairs import collate_pairs

pytestmark = pytest.mark.unit
BETA = 0.2
TOL = 1e-5


def _pairs() -> list[dict[str, list[int]]]:
    """Made here: prompts without labels, answers of different lengths with them."""
    out = []
    for n, (prompt, chosen, rejected) in enumerate([(6, 4, 7), (11, 3, 3), (3, 9, 5)]):
        head = [(5 * n + 3 * i) % 50 + 10 for i in range(prompt)]
        good = [(7 * n + 2 * i) % 50 + 10 for i in range(chosen)]
        bad = [(11 * n + 5 * i) % 50 + 10 for i in range(rejected)]
        out.append({
            "chosen_ids": head + good, "chosen_labels": [IGNORE_INDEX] * prompt + good,
            "rejected_ids": head + bad, "rejected_labels": [IGNORE_INDEX] * prompt + bad,
        })
    return out


def _lora_model(tiny_lm: Path) -> Any:
    """A LoRA model whose adapter is not zero (a fresh one would make policy == reference)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model: Any = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    return model.eval()


def _paper_logps(model: Any, ids: list[int], labels: list[int]) -> Any:
    """log pi(y|x): the model's own full forward, log-softmax, the answer tokens summed."""
    import torch

    logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    targets = torch.tensor(labels[1:])
    mask = targets != IGNORE_INDEX
    token = torch.log_softmax(logits, -1).gather(-1, targets.clamp(min=0)[:, None])[:, 0]
    return (token * mask).sum(), mask.sum()


def _paper_loss(model: Any, pairs: list[dict[str, list[int]]], loss_type: str, smoothing: float) -> Any:
    """Rafailov et al. eq. 7 (with cDPO's smoothing), IPO (Azar et al.) on length-normalised log-probs."""
    import torch

    losses = []
    for pair in pairs:
        pc, nc = _paper_logps(model, pair["chosen_ids"], pair["chosen_labels"])
        pr, nr = _paper_logps(model, pair["rejected_ids"], pair["rejected_labels"])
        with torch.no_grad(), model.disable_adapter():
            rc, _ = _paper_logps(model, pair["chosen_ids"], pair["chosen_labels"])
            rr, _ = _paper_logps(model, pair["rejected_ids"], pair["rejected_labels"])
        if loss_type == "sigmoid":
            h = BETA * ((pc - rc) - (pr - rr))
            loss = -(1 - smoothing) * torch.log(torch.sigmoid(h)) - smoothing * torch.log(torch.sigmoid(-h))
        else:
            h = (pc - rc) / nc - (pr - rr) / nr
            loss = (h - 1 / (2 * BETA)) ** 2
        losses.append(loss)
    return torch.stack(losses).mean()


def _kubetune_loss(model: Any, pairs: list[dict[str, list[int]]], packed: bool, loss_type: str,
                   smoothing: float) -> tuple[Any, Any]:
    import torch

    batch = collate_pairs(pairs, pad_id=0, packed=packed, max_length=64)
    n = len(pairs)
    with torch.no_grad(), model.disable_adapter():
        ref, _ = sequence_logps(model, batch, 2 * n)
    logps, counts = sequence_logps(model, batch, 2 * n)
    out = dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], beta=BETA, label_smoothing=smoothing,
                   loss_type=loss_type, chosen_tokens=counts[:n], rejected_tokens=counts[n:])
    return out.losses.mean(), out


def _grads(model: Any) -> dict[str, Any]:
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize(("loss_type", "smoothing", "packed"),
                         [("sigmoid", 0.0, True), ("sigmoid", 0.0, False), ("sigmoid", 0.2, True), ("ipo", 0.0, True)])
def test_loss_and_gradients_equal_the_papers_formula(tiny_lm: Path, loss_type: str, smoothing: float,
                                                    packed: bool) -> None:
    model = _lora_model(tiny_lm)
    pairs = _pairs()
    expected = _paper_loss(model, pairs, loss_type, smoothing)
    expected.backward()
    want = _grads(model)
    got, _ = _kubetune_loss(model, pairs, packed, loss_type, smoothing)
    got.backward()
    have = _grads(model)
    assert abs(float(got) - float(expected)) < TOL, (float(got), float(expected))
    assert float(expected) != pytest.approx(0.6931, abs=1e-3)  # not the trivial policy == reference value
    assert want.keys() == have.keys() and len(want) > 0
    nonzero = 0
    for name in want:
        assert (want[name] - have[name]).abs().max() < TOL, name
        nonzero += int(want[name].abs().max() > 1e-6)
    assert nonzero > len(want) // 2  # the gradients compared are real ones


def test_rewards_are_beta_times_the_log_ratios(tiny_lm: Path) -> None:
    import torch

    model = _lora_model(tiny_lm)
    pairs = _pairs()
    _, out = _kubetune_loss(model, pairs, True, "sigmoid", 0.0)
    metrics = reward_metrics(out)
    with torch.no_grad():
        chosen = []
        rejected = []
        for pair in pairs:
            pc, _ = _paper_logps(model, pair["chosen_ids"], pair["chosen_labels"])
            pr, _ = _paper_logps(model, pair["rejected_ids"], pair["rejected_labels"])
            with model.disable_adapter():
                rc, _ = _paper_logps(model, pair["chosen_ids"], pair["chosen_labels"])
                rr, _ = _paper_logps(model, pair["rejected_ids"], pair["rejected_labels"])
            chosen.append(float(BETA * (pc - rc)))
            rejected.append(float(BETA * (pr - rr)))
    assert metrics["rewards/chosen"] == pytest.approx(sum(chosen) / 3, abs=TOL)
    assert metrics["rewards/rejected"] == pytest.approx(sum(rejected) / 3, abs=TOL)
    assert metrics["rewards/margin"] == pytest.approx((sum(chosen) - sum(rejected)) / 3, abs=TOL)
    assert metrics["rewards/accuracy"] == pytest.approx(sum(c > r for c, r in zip(chosen, rejected, strict=True)) / 3)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo"])
def test_loss_and_gradients_equal_trls_dpo_trainer(tiny_lm: Path, tmp_path: Path, loss_type: str) -> None:
    """TRL's DPOTrainer.compute_loss on a batch its own collator made; kubetune's on the same tokens."""
    trl: Any = pytest.importorskip("trl")  # pinned in the dev extra (datasets comes with it)
    datasets: Any = pytest.importorskip("datasets")
    import torch
    from transformers import AutoTokenizer

    from kubetune.testing.preference_data import preference_pairs

    rows = [{"prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
             "rejected": [{"role": "assistant", "content": r}]} for p, c, r in preference_pairs(3)]
    rows[1]["chosen"][0]["content"] += " It is a long answer, to leave padding in the batch."
    args = trl.DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=3, beta=BETA, loss_type=[loss_type],
                     report_to=[], use_cpu=True, max_steps=1)
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    # A new adapter (TRL's reference is then the base with adapters disabled, as kubetune's), moved off
    # zero after TRL made it so that the policy differs from the reference.
    trainer = trl.DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32), args=args,
                             train_dataset=datasets.Dataset.from_list(rows),
                             processing_class=AutoTokenizer.from_pretrained(tiny_lm),
                             peft_config=LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear"))
    model: Any = trainer.model
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    batch = next(iter(trainer.get_train_dataloader()))
    expected = trainer.compute_loss(model, batch)
    expected.backward()
    want = _grads(model)

    rows_ = batch["input_ids"].shape[0]
    ours = {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "labels": batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE_INDEX),
        "sequence_ids": torch.arange(rows_)[:, None].expand_as(batch["input_ids"]),
    }
    n = rows_ // 2
    with torch.no_grad(), model.disable_adapter():
        ref, _ = sequence_logps(model, ours, rows_)
    logps, counts = sequence_logps(model, ours, rows_)
    got = dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], beta=BETA, loss_type=loss_type,
                   chosen_tokens=counts[:n], rejected_tokens=counts[n:]).losses.mean()
    got.backward()
    have = _grads(model)
    assert abs(float(got) - float(expected)) < TOL, (float(got), float(expected))
    assert float(expected) != pytest.approx(0.6931, abs=1e-3)
    for name in want:
        assert (want[name] - have[name]).abs().max() < TOL, name
