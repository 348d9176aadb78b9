#!/usr/bin/env python3
"""Writes compositional_negatives_reference.json: reference values of the hard-negative InfoNCE for
HardNegativeClipLossTest.

The loss is NegCLIP's ("When and why vision-language models behave like bags-of-words, and what to do about
it?", Yuksekgonul et al., ICLR 2023, Section 5): CLIP's symmetric InfoNCE in which M hard-negative captions are
extra columns of the image-to-text softmax (every image sees every negative); the text-to-image term is CLIP's,
since a negative caption has no image.

    u = image / ||image||, v = text / ||text||, w = negatives / ||negatives||,  s = exp(t)
    S = s u v^T [B, B],  H = s u w^T [B, M]
    image_to_text = -1/B sum_i log softmax([S_i, H_i])_i
    text_to_image = -1/B sum_j log softmax(S_:j)_j
    loss = (image_to_text + text_to_image) / 2

Computed with torch in float64 with autograd (an implementation independent of the Java one, which runs on
DJL in float32); inputs are rounded to float32 first so the Java test feeds exactly these values.

Run: /work/main/.modalign/bench/venv/bin/python plugins/compositional-negatives/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np
import torch

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "compositional_negatives_reference.json"


def loss_fn(image, text, negatives, t):
    u = image / image.norm(dim=1, keepdim=True)
    v = text / text.norm(dim=1, keepdim=True)
    s = t.exp()
    logits = s * u @ v.T
    rows = logits
    if negatives is not None and negatives.shape[0] > 0:
        w = negatives / negatives.norm(dim=1, keepdim=True)
        rows = torch.cat([logits, s * u @ w.T], dim=1)
    b = image.shape[0]
    targets = torch.arange(b)
    image_to_text = torch.nn.functional.cross_entropy(rows, targets)
    text_to_image = torch.nn.functional.cross_entropy(logits.T, targets)
    return (image_to_text + text_to_image) / 2


def case(name, rng, b, m, d, scale, temperature):
    image = rng.normal(size=(b, d)).astype(np.float32) * scale
    text = (image + 0.7 * rng.normal(size=(b, d)).astype(np.float32) * scale).astype(np.float32)
    negatives = rng.normal(size=(m, d)).astype(np.float32) * scale
    if m > 0:
        # Hard negatives: close to the captions they perturb, as a swapped word leaves a caption close.
        negatives[: min(m, b)] = text[: min(m, b)] + 0.2 * negatives[: min(m, b)]
        negatives = negatives.astype(np.float32)
    t0 = np.float32(math.log(1 / temperature))
    tensors = [torch.tensor(x.astype(np.float64), requires_grad=True) for x in (image, text, negatives)]
    t = torch.tensor(float(t0), dtype=torch.float64, requires_grad=True)
    loss = loss_fn(tensors[0], tensors[1], tensors[2] if m > 0 else None, t)
    loss.backward()
    return {
        "name": name,
        "temperature": temperature,
        "logit_scale": float(t0),
        "image": image.astype(np.float64).tolist(),
        "text": text.astype(np.float64).tolist(),
        "negatives": negatives.astype(np.float64).tolist(),
        "loss": loss.item(),
        "grad_image": tensors[0].grad.tolist(),
        "grad_text": tensors[1].grad.tolist(),
        "grad_negatives": tensors[2].grad.tolist() if m > 0 else [],
        "grad_logit_scale": t.grad.item(),
    }


def main():
    rng = np.random.default_rng(20241123)
    cases = [
        case("four pairs, six hard negatives", rng, 4, 6, 8, 1.0, 0.07),
        case("five pairs, no negatives (CLIP)", rng, 5, 0, 8, 1.0, 0.07),
        case("one pair, three negatives", rng, 1, 3, 6, 1.0, 0.1),
        case("six pairs, twelve negatives, large embeddings, warm temperature", rng, 6, 12, 16, 30.0, 0.5),
    ]
    document = {
        "description": "Hard-negative InfoNCE (NegCLIP) reference values from plugins/compositional-negatives/src/test/"
        "python/make_reference.py (torch, float64, autograd)",
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print("wrote", OUTPUT, len(cases), "cases")


if __name__ == "__main__":
    main()
