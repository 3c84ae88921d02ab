"""Where OpenNMT-py's train step goes, by the same parts as `python -m nmt.bench train --profile`: run with the peer's
own Python, in the peer's work folder set up by experiments/opennmt_race.py (it imports torch and onmt, never nmt):

    cd runs/opennmt_peer && venv/bin/python ../../experiments/peer_profile.py -config config/rnn.yaml

`onmt_train` runs unchanged (torch 2 threads); after --skip optimizer steps the next --steps run under torch's
profiler (shapes recorded), then the process prints one JSON line and exits. Every operation's self time counts
once, in one part:
- matrix products by their operands: one of them as wide as the vocabulary -> output layer and loss; batched
  products -> attention; the rest -> LSTM products (recurrent and input projections together: torch's LSTM
  projects a packed sequence's inputs in one product and its gradients leave no mark of which was which), and
  the encoder's fused LSTM layers (oneDNN's, gates included);
- the log-softmax, the loss and their gradients -> output layer and loss; softmax -> attention;
- dropout's masks -> dropout masks; everything under `Optimizer.step` -> optimizer update;
- copies, concatenations, transposes, packing, indexing, masking -> copies/transposes/masking;
- the rest (the LSTM gates' element-wise work, the embedding, autograd's bookkeeping) -> other.
Each part is its share of the profiled operations' time and, in seconds, that share of the median unprofiled step
(the --skip steps before it).
"""

import json
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))

import onmt.trainer  # noqa: E402

SKIP = int(os.environ.get("PROFILE_SKIP", "30"))
STEPS = int(os.environ.get("PROFILE_STEPS", "10"))
MOVES = (
    "copy",
    "cat",
    "stack",
    "clone",
    "contiguous",
    "transpose",
    "permute",
    "index",
    "gather",
    "scatter",
    "masked",
    "pack",
    "pad",
    "narrow",
    "slice",
    "select",
    "expand",
    "where",
    "fill",
    "zero",
    "flip",
    "split",
    "view",
    "reshape",
    "unsqueeze",
    "squeeze",
    "to",
    "empty",
    "resize",
)
PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm")


def _part(event, vocab: int) -> str:
    name, parent = event.name, event.cpu_parent
    while parent is not None:
        if parent.name.startswith("Optimizer.step"):
            return "optimizer update"
        parent = parent.cpu_parent
    if name in PRODUCTS:
        shapes = [s for s in event.input_shapes if s]
        dims = {d for s in shapes for d in s}
        if any(abs(d - vocab) <= 8 for d in dims):
            return "output layer and loss"
        return "attention" if "bmm" in name else "LSTM products"
    low = name.lower()
    if "rnn" in low or "lstm" in low:  # the encoder's fused oneDNN layers: products and gates in one operation
        return "LSTM products"
    if "log_softmax" in low or "nll" in low or "cross_entropy" in low:
        return "output layer and loss"
    if "softmax" in low:
        return "attention"
    if "bernoulli" in low or "dropout" in low:
        return "dropout masks"
    if any(m in low for m in MOVES):
        return "copies/transposes/masking"
    return "other"


def main():
    original = onmt.trainer.Trainer._accum_batches
    times, shapes, tokens, marks = [], [], [], {}

    def profiled(self, iterator):
        last = None
        for k, item in enumerate(original(self, iterator)):
            now = time.perf_counter()
            if last is not None:
                times.append(now - last)
            last = now
            shapes.append(tuple(item[0][0]["src"].shape))  # (batches, normalization); [B, S, 1]
            tokens.append(item[1])  # the step's target tokens (its loss's normalisation)
            if k == SKIP:
                prof.__enter__()
            if k == SKIP + STEPS:
                prof.__exit__(None, None, None)
                report(self, now - marks["start"])
                sys.exit(0)
            if k == SKIP:
                marks["start"] = time.perf_counter()
            yield item

    def report(trainer, seconds: float):
        vocab = trainer.model.generator.out_features
        parts: dict[str, float] = {}
        for event in prof.events():
            if event.device_type != torch.autograd.DeviceType.CPU or event.name.startswith("Optimizer.step"):
                continue
            if event.name.startswith(("ProfilerStep", "autograd::engine")):
                continue
            part = _part(event, vocab)
            parts[part] = parts.get(part, 0.0) + event.self_cpu_time_total / 1e6
        total = sum(parts.values())
        plain = sorted(times[: SKIP - 1])[len(times[: SKIP - 1]) // 2]
        # times[k]: from batch k handed over to batch k + 1 (its step and drawing the next)
        rate = sorted(n / t for n, t in zip(tokens[: SKIP - 1], times[: SKIP - 1]))[(SKIP - 1) // 2]
        ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:25]
        print(
            json.dumps(
                {
                    "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "skip": SKIP,
                    "steps": STEPS,
                    "step_s_unprofiled": plain,
                    "tokens_per_s_unprofiled": rate,
                    "step_s_profiled": seconds / STEPS,
                    "vocab": vocab,
                    "src_shapes": shapes[SKIP : SKIP + STEPS],
                    "parts": {
                        p: {"share": s / total, "step_s": plain * s / total}
                        for p, s in sorted(parts.items(), key=lambda kv: -kv[1])
                    },
                    "top_ops": [
                        {"op": e.key, "self_s_a_step": e.self_cpu_time_total / 1e6 / STEPS, "calls": e.count}
                        for e in ops
                    ],
                }
            ),
            flush=True,
        )

    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True)
    onmt.trainer.Trainer._accum_batches = profiled
    from onmt.bin.train import main as train_main

    train_main()


if __name__ == "__main__":
    main()
