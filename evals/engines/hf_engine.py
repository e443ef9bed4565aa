"""Hugging Face transformers engine: the float32 reference the vLLM engine is checked against.

Deliberately plain: one forward pass per sequence for scoring, ``model.generate`` for sampling with
the global torch RNG seeded per request (so results do not depend on how requests are grouped;
the draws differ from vLLM's for the same seed). Slow but easy to trust.
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
        self.max_batch = 256
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
        """Each request's n samples are drawn as one batch from a torch RNG seeded by its seed."""
        torch = self.torch
        out = []
        eos = self.tokenizer.eos_token_id
        for req in requests:
            ids = torch.tensor([self.tokenizer(req.prompt)["input_ids"]], device=self.device)
            kwargs: dict = {"max_new_tokens": req.max_tokens, "pad_token_id": eos}
            if req.temperature > 0:
                kwargs.update(do_sample=True, temperature=req.temperature, top_p=req.top_p, top_k=0)
            else:
                kwargs.update(do_sample=False)
            if req.seed is not None:
                torch.manual_seed(req.seed)
            texts: list[str] = []
            for start in range(0, req.n, self.max_batch):
                rows = min(self.max_batch, req.n - start)
                batch = ids.repeat(rows, 1)
                with torch.no_grad():
                    gen = self.model.generate(
                        batch, attention_mask=torch.ones_like(batch), **kwargs
                    )
                for row in gen[:, ids.shape[1] :].tolist():
                    if eos in row:
                        row = row[: row.index(eos)]
                    text = self.tokenizer.decode(row, skip_special_tokens=True)
                    texts.append(truncate_at_stop(text, req.stop))
            out.append(texts)
        return out

    def close(self) -> None:
        self.model = None
