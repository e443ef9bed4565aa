"""Hugging Face transformers engine: the float32 reference the vLLM engine is checked against.

Deliberately plain: one forward pass per sequence for scoring, ``model.generate`` for sampling with
the global torch RNG seeded per request (so results do not depend on batching). Slow but easy to
trust.
"""

from __future__ import annotations

from pathlib import Path

from evals.engines.base import ChoiceRequest, ChoiceScores, GenerateRequest, encode_pair


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """Cut ``text`` at the first occurrence of any stop string (the stop string is dropped)."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


class HfEngine:
    """transformers ``AutoModelForCausalLM`` in float32 on CPU (or ``device``)."""

    name = "hf"

    def __init__(
        self, model_path: str | Path, *, dtype: str = "float32", device: str = "cpu", **_: object
    ) -> None:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_path = str(model_path)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_path, dtype=getattr(torch, dtype)
        ).to(device)
        self.model.eval()
        self.device = device
        self.version = f"transformers-{transformers.__version__}+torch-{torch.__version__}"

    def _logprobs(self, ids: tuple[int, ...]):
        torch = self.torch
        with torch.no_grad():
            x = torch.tensor([ids], device=self.device)
            logits = self.model(x).logits[0].float()
            return torch.log_softmax(logits, dim=-1)

    def next_token_logprobs(self, prompt: str):
        """Log-probabilities (float32 tensor over the vocabulary) of the token after ``prompt``."""
        ids = tuple(self.tokenizer(prompt)["input_ids"])
        return self._logprobs(ids)[-1]

    def score_choices(self, requests: list[ChoiceRequest]) -> list[ChoiceScores]:
        out = []
        for req in requests:
            sums, counts, greedy = [], [], []
            for choice in req.choices:
                pair = encode_pair(self.tokenizer, req.context, choice)
                lp = self._logprobs(pair.ids)
                start = len(pair.ids) - pair.n_cont
                positions = range(start - 1, len(pair.ids) - 1)
                targets = pair.cont_ids
                rows = lp[list(positions)]
                picked = rows[range(len(targets)), list(targets)]
                sums.append(float(picked.double().sum()))
                counts.append(pair.n_cont)
                greedy.append(bool((rows.argmax(dim=-1).tolist()) == list(targets)))
            out.append(ChoiceScores(tuple(sums), tuple(counts), tuple(greedy)))
        return out

    def generate(self, requests: list[GenerateRequest]) -> list[list[str]]:
        torch = self.torch
        out = []
        for req in requests:
            ids = torch.tensor([self.tokenizer(req.prompt)["input_ids"]], device=self.device)
            texts = []
            for j in range(req.n):
                if req.seed is not None:
                    torch.manual_seed(req.seed + j)
                kwargs: dict = {"max_new_tokens": req.max_tokens, "pad_token_id": 0}
                if req.temperature > 0:
                    kwargs.update(do_sample=True, temperature=req.temperature, top_p=req.top_p)
                    kwargs.update(top_k=0)
                else:
                    kwargs.update(do_sample=False)
                with torch.no_grad():
                    gen = self.model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
                new = gen[0, ids.shape[1] :].tolist()
                eos = self.tokenizer.eos_token_id
                if eos in new:
                    new = new[: new.index(eos)]
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                texts.append(truncate_at_stop(text, req.stop))
            out.append(texts)
        return out

    def close(self) -> None:
        self.model = None
