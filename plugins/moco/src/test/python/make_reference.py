"""Writes moco_reference.json: reference values of the moco loss for MocoLossTest.

An independent implementation in torch (float64, autograd for the gradients) of MoCo's InfoNCE ("Momentum
Contrast for Unsupervised Visual Representation Learning", He et al., CVPR 2020, Eq. 1) over the batch's keys
and a queue of past keys, as torch.nn.functional.cross_entropy over the concatenated logits, in the shape of
the authors' moco/builder.py. Inputs are float32 values; the queue is given raw and normalised here as the loss
normalises the keys it enqueues.

    /work/main/.modalign/bench/venv/bin/python plugins/moco/src/test/python/make_reference.py
"""

import json
import pathlib

import torch
import torch.nn.functional as F

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "moco_reference.json"


def info_nce(q, k, queue, temperature, in_batch):
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1).detach()
    queue = F.normalize(queue, dim=1) if queue.shape[0] else queue
    if in_batch:
        logits = q @ k.T
        labels = torch.arange(q.shape[0])
    else:
        logits = (q * k).sum(1, keepdim=True)
        labels = torch.zeros(q.shape[0], dtype=torch.long)
    if queue.shape[0]:
        logits = torch.cat([logits, q @ queue.T], dim=1)
    return F.cross_entropy(logits / temperature, labels)


def case(name, rng, batch, dim, queue_len, temperature, in_batch, towers):
    def f32(*shape):
        return torch.randn(*shape, generator=rng, dtype=torch.float32).double()

    a, b = f32(batch, dim), f32(batch, dim)
    b = (a + 0.8 * b)
    a_key, b_key = a + 0.1 * f32(batch, dim), b + 0.1 * f32(batch, dim)
    a_queue, b_queue = f32(queue_len, dim), f32(queue_len, dim)
    for t in (a, b, a_key, b_key, a_queue, b_queue):
        t.copy_(t.float().double())
    a.requires_grad_(True)
    b.requires_grad_(True)
    if towers == 2:
        # [q, k]: a's rows against b_key's keys and b_key's queue.
        loss = info_nce(a, b_key, b_queue, temperature, in_batch)
    else:
        # [a, b, a_key, b_key]: a against b_key, b against a_key, averaged.
        loss = (info_nce(a, b_key, b_queue, temperature, in_batch)
                + info_nce(b, a_key, a_queue, temperature, in_batch)) / 2
    loss.backward()
    grad_b = b.grad if b.grad is not None else torch.zeros_like(b)
    return {
        "name": name, "towers": towers, "temperature": temperature, "in_batch": in_batch,
        "a": a.detach().tolist(), "b": b.detach().tolist(), "a_key": a_key.tolist(), "b_key": b_key.tolist(),
        "a_queue": a_queue.tolist(), "b_queue": b_queue.tolist(),
        "loss": loss.item(), "grad_a": a.grad.tolist(), "grad_b": grad_b.tolist(),
    }


def main():
    rng = torch.Generator().manual_seed(10)
    cases = [
        case("pair_in_batch_with_queue", rng, 5, 4, 7, 0.07, True, 2),
        case("pair_positive_and_queue_only", rng, 5, 4, 7, 0.2, False, 2),
        case("pair_empty_queue", rng, 4, 3, 0, 0.1, True, 2),
        case("cross_modal_symmetric", rng, 6, 5, 9, 0.07, True, 4),
        case("cross_modal_batch_of_one", rng, 1, 4, 3, 0.05, False, 4),
    ]
    document = {
        "description": "moco loss reference values from plugins/moco/src/test/python/make_reference.py (torch "
        + torch.__version__ + ", float64, autograd)",
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
