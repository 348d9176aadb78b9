#!/usr/bin/env python3
"""Writes one_encoder_reference.json: reference values of the anchored alignment loss for AnchoredAlignmentLossTest.

OneEncoder's alignment stage ("OneEncoder: A Lightweight Framework for Progressive Alignment of Modalities", Faye
et al., 2024): CLIP's InfoNCE between a new tower and frozen anchor towers, the anchors detached.

    a = new / ||new||,  z_k = anchor_k / ||anchor_k|| (no gradient),  S_k = exp(t) a z_k^T
    M_ij = 1 where rows i != j share a group (excluded from both softmaxes)
    L_k = (CE(S_k masked, diag) + CE(S_k^T masked, diag)) / 2    (the first term alone when not symmetric)
    loss = sum_k w_k L_k / sum_k w_k

torch in float64 with autograd; the anchors are plain inputs whose gradient is computed too and must be zero
after the detach (torch.no_grad copies); inputs are rounded to float32 first.

Run: /work/main/.modalign/bench/venv/bin/python plugins/one-encoder/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np
import torch

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "one_encoder_reference.json"


def loss_fn(query, anchors, weights, groups, t, symmetric):
    a = query / query.norm(dim=1, keepdim=True)
    b = query.shape[0]
    same = torch.tensor([[1.0 if (i != j and groups[i] == groups[j]) else 0.0 for j in range(b)] for i in range(b)],
                        dtype=torch.float64)
    targets = torch.arange(b)
    total = 0
    for anchor, w in zip(anchors, weights):
        z = (anchor / anchor.norm(dim=1, keepdim=True)).detach()
        logits = t.exp() * a @ z.T
        logits = logits.masked_fill(same > 0, float("-inf"))
        term = torch.nn.functional.cross_entropy(logits, targets)
        if symmetric:
            term = (term + torch.nn.functional.cross_entropy(logits.T, targets)) / 2
        total = total + w * term
    return total / sum(weights)


def case(name, rng, b, d, weights, groups, symmetric, temperature, scale=1.0):
    query = (rng.normal(size=(b, d)) * scale).astype(np.float32)
    anchors = [(query + rng.normal(size=(b, d)) * scale).astype(np.float32) for _ in weights]
    t0 = np.float32(math.log(1 / temperature))
    q = torch.tensor(query.astype(np.float64), requires_grad=True)
    zs = [torch.tensor(x.astype(np.float64), requires_grad=True) for x in anchors]
    t = torch.tensor(float(t0), dtype=torch.float64, requires_grad=True)
    loss = loss_fn(q, zs, weights, groups, t, symmetric)
    loss.backward()
    return {
        "name": name,
        "temperature": temperature,
        "logit_scale": float(t0),
        "symmetric": symmetric,
        "weights": weights,
        "groups": groups,
        "query": query.astype(np.float64).tolist(),
        "anchors": [x.astype(np.float64).tolist() for x in anchors],
        "loss": loss.item(),
        "grad_query": q.grad.tolist(),
        "grad_logit_scale": t.grad.item(),
    }


def main():
    rng = np.random.default_rng(7)
    cases = [
        case("one anchor, every row its own item", rng, 5, 8, [1.0], ["a", "b", "c", "d", "e"], True, 0.07),
        case("two anchors weighted 1 and 0.5, voices of one caption share a group", rng, 6, 8, [1.0, 0.5],
             ["x", "x", "y", "z", "z", "z"], True, 0.07),
        case("one anchor, one direction, large embeddings", rng, 4, 6, [2.0], ["p", "q", "p", "r"], False, 0.2, 40.0),
    ]
    document = {"description": "OneEncoder anchored InfoNCE reference values from plugins/one-encoder/src/test/python/"
                "make_reference.py (torch, float64, autograd)", "cases": cases}
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print("wrote", OUTPUT, len(cases), "cases")


if __name__ == "__main__":
    main()
