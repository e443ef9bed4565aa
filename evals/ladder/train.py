"""Train every size of a ladder with one recipe; save HF checkpoints and loss logs.

Each size writes ``<workdir>/models/<size>/step-<k>/`` (HF Llama + tokenizer, loadable by vLLM)
at the recipe's checkpoint fractions, and ``log.jsonl`` with training and held-out validation
loss. A size whose final checkpoint exists is skipped, so an interrupted ladder resumes.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evals.ladder.data import PreparedData, prepare_data
from evals.ladder.recipe import LadderConfig, SizeSpec


def build_model(cfg: LadderConfig, size: SizeSpec, vocab_size: int) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    mc = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        head_dim=size.head_dim,
        max_position_embeddings=cfg.seq_len,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        torch_dtype="float32",
    )
    return LlamaForCausalLM(mc)


def param_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(total, non-embedding) parameters; embeddings are tied, so counted once in total."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    return total, total - emb


def size_plan(cfg: LadderConfig, size: SizeSpec, vocab_size: int) -> dict[str, Any]:
    """Everything the recipe derives for one size: params, tokens, steps, batch, lr, FLOPs."""
    torch.manual_seed(0)
    n_total, n_nonembed = param_counts(build_model(cfg, size, vocab_size))
    r = cfg.recipe
    target_tokens = r.tokens_per_param * n_total
    batch = r.batch_seqs_for(target_tokens)
    steps = max(10, math.ceil(target_tokens / (batch * cfg.seq_len)))
    n_tokens = steps * batch * cfg.seq_len
    ckpts = sorted({max(1, round(f * steps)) for f in r.checkpoints})
    return {
        **asdict(size),
        "head_dim": size.head_dim,
        "n_params": n_total,
        "n_params_nonembed": n_nonembed,
        "batch_seqs": batch,
        "steps": steps,
        "n_tokens": n_tokens,
        "lr": r.lr_for(size),
        "flops": 6.0 * n_total * n_tokens,
        "checkpoint_steps": ckpts,
    }


def resolve_device(cfg: LadderConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


@torch.no_grad()
def validation_loss(model: torch.nn.Module, val: np.ndarray, device: torch.device) -> float:
    model.eval()
    losses = []
    for i in range(0, len(val), 16):
        x = torch.from_numpy(val[i : i + 16].astype(np.int64)).to(device)
        out = model(input_ids=x[:, :-1], labels=x[:, :-1].clone())
        # HF shifts labels internally; score the same next-token targets as training
        losses.append(float(out.loss) * len(x))
    model.train()
    return sum(losses) / len(val)


def _batch(train: np.ndarray, rng: np.random.Generator, batch: int, seq_len: int) -> np.ndarray:
    starts = rng.integers(0, len(train) - seq_len - 1, size=batch)
    return np.stack([train[s : s + seq_len + 1] for s in starts]).astype(np.int64)


def train_size(
    cfg: LadderConfig, size: SizeSpec, data: PreparedData, workdir: Path, log=print
) -> dict[str, Any]:
    """Train one size; return its plan with the measured losses and wall time."""
    out = workdir / "models" / size.name
    plan = size_plan(cfg, size, data.info["vocab_size"])
    final = out / f"step-{plan['steps']}"
    if (final / "config.json").exists() and (out / "summary.json").exists():
        return json.loads((out / "summary.json").read_text())
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    device = resolve_device(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, size, data.info["vocab_size"]).to(device)
    r = cfg.recipe
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": r.weight_decay},
            {"params": no_decay, "weight_decay": 0},
        ],
        lr=plan["lr"],
        betas=(0.9, 0.95),
        eps=1e-8,
    )
    rng = np.random.default_rng(cfg.seed)
    amp = cfg.amp and device.type == "cuda"
    logf = (out / "log.jsonl").open("w")
    t0 = time.time()
    every = max(1, plan["steps"] // 50)
    ckpt_steps = set(plan["checkpoint_steps"])
    checkpoints = []
    for step in range(1, plan["steps"] + 1):
        lr = r.lr_at(step - 1, plan["steps"], plan["lr"])
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(_batch(data.train, rng, plan["batch_seqs"], cfg.seq_len)).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        opt.step()
        rec: dict[str, Any] = {
            "step": step,
            "n_tokens": step * plan["batch_seqs"] * cfg.seq_len,
            "lr": lr,
            "train_loss": float(loss.detach()),
        }
        if step in ckpt_steps or step % (every * 10) == 0:
            rec["val_loss"] = validation_loss(model, data.val, device)
        if step in ckpt_steps:
            cdir = out / f"step-{step}"
            model.save_pretrained(str(cdir), safe_serialization=True)
            shutil.copytree(data.tokenizer_dir, cdir, dirs_exist_ok=True)
            checkpoints.append({**rec, "path": str(cdir.relative_to(workdir))})
        if step % every == 0 or "val_loss" in rec:
            rec["elapsed_s"] = round(time.time() - t0, 2)
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        if step % (every * 10) == 0:
            log(f"[{size.name}] step {step}/{plan['steps']} loss {rec['train_loss']:.3f}")
    logf.close()
    summary = {**plan, "checkpoints": checkpoints, "wall_s": round(time.time() - t0, 1)}
    summary["device"] = str(device)
    summary["final_val_loss"] = checkpoints[-1]["val_loss"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def train_ladder(cfg: LadderConfig, workdir: Path, log=print) -> list[dict[str, Any]]:
    """Prepare data once, then train each size (smallest first); resumable per size."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    workdir.mkdir(parents=True, exist_ok=True)
    data = prepare_data(cfg, workdir)
    (workdir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    return [train_size(cfg, s, data, workdir, log) for s in cfg.sizes]


def main(argv: list[str] | None = None) -> None:
    """``python -m evals.ladder.train CONFIG WORKDIR``: training alone (GPU boxes need no DB)."""
    import argparse

    from evals.ladder.recipe import load_config

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config")
    ap.add_argument("workdir", type=Path)
    args = ap.parse_args(argv)
    for s in train_ladder(
        load_config(args.config), args.workdir, log=lambda m: print(m, flush=True)
    ):
        print(
            json.dumps(
                {
                    k: s[k]
                    for k in ("name", "n_params", "n_tokens", "flops", "final_val_loss", "wall_s")
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
