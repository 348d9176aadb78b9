#!/usr/bin/env python3
"""Writes coca_reference.json: reference values of CoCa's captioning loss for CaptioningLossTest.

The loss is eq. 2 of "CoCa: Contrastive Captioners are Image-Text Foundation Models" (Yu et al., 2022):
the teacher-forced negative log-likelihood of each caption token given the earlier ones and the image,
averaged over the real tokens. The decoder is written here independently with torch.nn.functional, from
the description in CaptionDecoder's comment (not from the Java code):

    x = E[ids] + P[:T]                                   token + position embeddings, [B, T, W]
    memory: the image tower's tokens [B, N, D], mask [B, N]
    per layer (pre-norm):
        x += MHA(LN1(x), LN1(x); causal)                 queries see keys at or before them
        x += MHA(LN2(x), memory; memory mask)            keys/values from the image tokens (D -> W)
        x += relu(LN3(x) W1 + b1) W2 + b2
    logits = LN(x) E^T                                   tied output layer, [B, T, V]
    targets[t] = ids[t + 1], PAD (0) after the last column
    loss = -sum_{t real} log softmax(logits[t])[targets[t]] / #real

MHA has no biases: q = x Wq, k = y Wk, v = y Wv, heads of width W / H, softmax(q k^T / sqrt(W / H)), then Wo.
LayerNorm: (x - mean) / sqrt(var + 1e-5) * g + b, the variance biased. Computed in float64 from float32
values; gradients by autograd, with respect to the image tokens and every parameter.

Run: /work/main/.modalign/bench/venv/bin/python plugins/coca/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import torch
import torch.nn.functional as F

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "coca_reference.json"


def parameter_shapes(vocab, max_len, image_dim, width, layers):
    shapes = [("token_embedding", (vocab, width)), ("position_embedding", (max_len, width))]
    for l in range(layers):
        shapes += [(f"{l}.ln1.g", (width,)), (f"{l}.ln1.b", (width,))]
        shapes += [(f"{l}.self.{n}", (width, width)) for n in "qkvo"]
        shapes += [(f"{l}.ln2.g", (width,)), (f"{l}.ln2.b", (width,))]
        shapes += [(f"{l}.cross.q", (width, width)), (f"{l}.cross.k", (image_dim, width)),
                   (f"{l}.cross.v", (image_dim, width)), (f"{l}.cross.o", (width, width))]
        shapes += [(f"{l}.ln3.g", (width,)), (f"{l}.ln3.b", (width,))]
        shapes += [(f"{l}.mlp.w1", (width, 4 * width)), (f"{l}.mlp.b1", (4 * width,)),
                   (f"{l}.mlp.w2", (4 * width, width)), (f"{l}.mlp.b2", (width,))]
    shapes += [("ln.g", (width,)), ("ln.b", (width,))]
    return shapes


def attention(x, y, wq, wk, wv, wo, heads, allowed):
    b, tq, w = x.shape
    tk = y.shape[1]
    q = (x @ wq).view(b, tq, heads, w // heads).transpose(1, 2)
    k = (y @ wk).view(b, tk, heads, w // heads).transpose(1, 2)
    v = (y @ wv).view(b, tk, heads, w // heads).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(w // heads)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, tq, w) @ wo


def layer_norm(x, g, b):
    return F.layer_norm(x, (x.shape[-1],), g, b, eps=1e-5)


def captioning_loss(ids, mask, memory, memory_mask, params, heads, layers):
    named = dict(params)
    b, t = ids.shape
    x = named["token_embedding"][ids] + named["position_embedding"][:t]
    causal = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
    visible = (memory_mask > 0)[:, None, None, :]
    for l in range(layers):
        p = lambda n: named[f"{l}.{n}"]
        h = layer_norm(x, p("ln1.g"), p("ln1.b"))
        x = x + attention(h, h, p("self.q"), p("self.k"), p("self.v"), p("self.o"), heads, causal)
        h = layer_norm(x, p("ln2.g"), p("ln2.b"))
        x = x + attention(h, memory, p("cross.q"), p("cross.k"), p("cross.v"), p("cross.o"), heads, visible)
        h = layer_norm(x, p("ln3.g"), p("ln3.b"))
        x = x + F.relu(h @ p("mlp.w1") + p("mlp.b1")) @ p("mlp.w2") + p("mlp.b2")
    logits = layer_norm(x, named["ln.g"], named["ln.b"]) @ named["token_embedding"].T
    targets = torch.cat([ids[:, 1:], torch.zeros(b, 1, dtype=ids.dtype)], dim=1)
    picked = logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0]
    loss = -(picked * mask).sum() / mask.sum()
    accuracy = ((logits.argmax(-1) == targets).double() * mask).sum() / mask.sum()
    return loss, accuracy


def f32(x):
    return x.float().double()


def case(name, seed, lengths, memory_lengths, vocab, max_len, image_dim, width, layers, heads, scale):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    t = max(lengths)
    n = max(memory_lengths)
    ids = torch.zeros(b, t, dtype=torch.long)
    mask = torch.zeros(b, t, dtype=torch.float64)
    for i, length in enumerate(lengths):
        ids[i, 0] = 1
        ids[i, 1:length] = torch.randint(4, vocab, (length - 1,), generator=g)
        mask[i, :length] = 1
    memory_mask = torch.zeros(b, n, dtype=torch.float64)
    for i, length in enumerate(memory_lengths):
        memory_mask[i, :length] = 1
    memory = f32(torch.randn(b, n, image_dim, generator=g, dtype=torch.float64) * scale).requires_grad_()
    params = []
    for pname, shape in parameter_shapes(vocab, max_len, image_dim, width, layers):
        if pname.endswith(".g"):
            value = 1 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif pname.endswith(".b") or pname.endswith(".b1") or pname.endswith(".b2"):
            value = 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            value = torch.randn(shape, generator=g, dtype=torch.float64) * scale / math.sqrt(shape[0])
        params.append((pname, f32(value).requires_grad_()))
    loss, accuracy = captioning_loss(ids, mask, memory, memory_mask, params, heads, layers)
    loss.backward()
    return {
        "name": name, "vocab_size": vocab, "max_len": max_len, "width": width, "layers": layers, "heads": heads,
        "ids": ids.tolist(), "mask": mask.tolist(), "memory": memory.detach().tolist(),
        "memory_mask": memory_mask.tolist(),
        "parameter_names": [p for p, _ in params],
        "parameters": [v.detach().flatten().tolist() for _, v in params],
        "loss": loss.item(), "token_accuracy": accuracy.item(),
        "grad_memory": memory.grad.tolist(),
        "parameter_grads": [v.grad.flatten().tolist() for _, v in params],
    }


def main():
    cases = [
        case("one layer, padded captions", 1, [5, 3, 2], [4, 4, 4], 13, 6, 6, 8, 1, 2, 1.0),
        case("two layers, masked image tokens", 2, [6, 6, 4, 2], [5, 3, 5, 2], 17, 8, 4, 8, 2, 4, 1.0),
        case("large weights", 3, [4, 3], [3, 3], 11, 4, 6, 8, 1, 1, 4.0),
    ]
    description = ("CoCa captioning loss (Yu et al. 2022, eq. 2) with a small pre-norm decoder; written by"
                   " plugins/coca/src/test/python/make_reference.py with torch in float64")
    OUTPUT.write_text(json.dumps({"description": description, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
