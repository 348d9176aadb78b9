#!/usr/bin/env python3
"""Writes masked_patch_reference.json: reference values of the masked-patch loss for MaskedPatchLossTest.

SSAST's joint discriminative and generative objective ("SSAST: Self-Supervised Audio Spectrogram
Transformer", Gong et al., AAAI 2022, eqs. 1-3), written here with torch from the paper's description:

    patches of an image [C, H, W]: p x p squares in row-major grid order, each flattened (c, y, x)
    x_k    the true patch k (from the unmasked image), h_k the encoder's token at patch k
    M_i    the patches of image i that the augmentation filled (every value below mask_below)
    c_k = h_k W_d + b_d,  r_k = h_k W_g + b_g
    L_d(i) = -1/|M_i| sum_{k in M_i} log softmax_{j in M_i}(c_k . x_j)[k]
    L_g(i) =  1/|M_i| sum_{k in M_i} mean((r_k - x_k)^2)
    loss   = mean over images with |M_i| > 0 of L_d(i) + lambda L_g(i)

Float64 from float32 inputs; gradients by autograd w.r.t. the tokens and the four head parameters.

Run: /work/main/.modalign/bench/venv/bin/python plugins/masked-contrastive/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import torch

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "masked_patch_reference.json"
FILL = -3.0  # patch-mask's default fill -1, normalised by (x - 0.5) / 0.5


def f32(x):
    return x.float().double()


def patches(images, p):
    b, c, h, w = images.shape
    return images.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(b, (h // p) * (w // p), c * p * p)


def case(name, seed, b, c, size, p, d, masked_sets, weight, scale):
    g = torch.Generator().manual_seed(seed)
    target = f32(torch.rand(b, c, size, size, generator=g, dtype=torch.float64) * 2 - 1)
    masked = target.clone()
    grid = size // p
    for i, chosen in enumerate(masked_sets):
        for k in chosen:
            y, x = divmod(k, grid)
            masked[i, :, y * p:(y + 1) * p, x * p:(x + 1) * p] = FILL
    n, dim = grid * grid, c * p * p
    tokens = f32(torch.randn(b, n, d, generator=g, dtype=torch.float64) * scale).requires_grad_()
    wd = f32(torch.randn(d, dim, generator=g, dtype=torch.float64) / math.sqrt(d)).requires_grad_()
    bd = f32(torch.randn(dim, generator=g, dtype=torch.float64) * 0.1).requires_grad_()
    wg = f32(torch.randn(d, dim, generator=g, dtype=torch.float64) / math.sqrt(d)).requires_grad_()
    bg = f32(torch.randn(dim, generator=g, dtype=torch.float64) * 0.1).requires_grad_()

    x = patches(target, p)
    total_d, total_g, images = 0.0, 0.0, 0
    for i, chosen in enumerate(masked_sets):
        if not chosen:
            continue
        m = torch.tensor(sorted(chosen))
        c_k = tokens[i, m] @ wd + bd                      # [m, P]
        r_k = tokens[i, m] @ wg + bg
        x_m = x[i, m]
        logits = c_k @ x_m.T                              # [m, m]: k against the masked patches j
        total_d = total_d - logits.log_softmax(-1).diagonal().mean()
        total_g = total_g + ((r_k - x_m) ** 2).mean(-1).mean()
        images += 1
    infonce, mse = total_d / images, total_g / images
    loss = infonce + weight * mse
    loss.backward()
    return {
        "name": name, "patch": p, "reconstruction_weight": weight,
        "masked_images": masked.tolist(), "target_images": target.tolist(), "tokens": tokens.detach().tolist(),
        "discriminative_weight": wd.detach().tolist(), "discriminative_bias": bd.detach().tolist(),
        "generative_weight": wg.detach().tolist(), "generative_bias": bg.detach().tolist(),
        "loss": loss.item(), "infonce": infonce.item(), "mse": mse.item(),
        "grad_tokens": tokens.grad.tolist(),
        "grad_discriminative_weight": wd.grad.tolist(), "grad_discriminative_bias": bd.grad.tolist(),
        "grad_generative_weight": wg.grad.tolist(), "grad_generative_bias": bg.grad.tolist(),
    }


def main():
    cases = [
        case("two channels, 2x2 patches, uneven masks", 1, 3, 2, 4, 2, 5, [[0, 3], [1, 2, 3], [2]], 10.0, 1.0),
        case("an image without masked patches", 2, 3, 1, 6, 2, 4, [[0, 4, 8], [], [1, 2, 5, 7]], 1.0, 1.0),
        case("large tokens", 3, 2, 3, 4, 2, 6, [[0, 1, 2], [3, 1]], 0.5, 8.0),
    ]
    description = ("SSAST masked patch loss (Gong et al. 2022, eqs. 1-3); written by"
                   " plugins/masked-contrastive/src/test/python/make_reference.py with torch in float64")
    OUTPUT.write_text(json.dumps({"description": description, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
