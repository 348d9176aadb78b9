#!/usr/bin/env python3
"""Writes filip_reference.json: reference values of the FILIP loss for FilipLossTest.

The loss is the contrastive objective of "FILIP: Fine-grained Interactive Language-Image Pre-Training"
(Yao et al., ICLR 2022), Section 3.1, with the token-wise late interaction of Section 3.1.1 in place of
CLIP's global cosine. For towers a and b with token features a [B, Ta, D], b [B, Tb, D] and masks
ma [B, Ta], mb [B, Tb] (1 for a real token, 0 for padding):

    u = a / ||a||, v = b / ||b||                 every token L2-normalised
    M[i, k, j, r] = <u_ik, v_jr>
    s_ab[i, j] = 1/|ma_i| sum_{k real in a_i} max_{r real in b_j} M[i, k, j, r]     (FILIP's s^I_ij)
    s_ba[j, i] = 1/|mb_j| sum_{r real in b_j} max_{k real in a_i} M[i, k, j, r]     (FILIP's s^T_ij)
    c = exp(min(logit_scale, log(max_logit_scale)))                          CLIP's learned scale
    L_ab = mean_i -log softmax_j(c s_ab[i, :])[i]                            a -> b
    L_ba = mean_j -log softmax_i(c s_ba[j, :])[j]                            b -> a
    loss = (L_ab + L_ba) / 2

Each direction uses its own similarity: the query side's tokens are averaged, each matched to its most
similar real token of the other side. Padded tokens are neither averaged over nor matched.

numpy only (no torch). Gradients are derived by hand below (the max passes its gradient to its argmax)
and checked against central finite differences in float64 before anything is written; inputs are
rounded to float32 first so that the Java test feeds the loss exactly these values. Token features are
random, so maxima are unique and finite differences are well defined.

Run: python3 plugins/filip/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "filip_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def normalised(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def similarities(a, ma, b, mb):
    """s_ab [B, B] and s_ba [B, B] (row j of s_ba: text j against every image i), with the argmaxes."""
    u, v = normalised(a), normalised(b)
    m = np.einsum("ikd,jrd->ikjr", u, v)
    masked_r = np.where(mb[None, None, :, :] > 0, m, -np.inf)        # match only real tokens of b_j
    best_r = masked_r.argmax(axis=3)                                   # [i, k, j]
    top_r = np.take_along_axis(masked_r, best_r[..., None], axis=3)[..., 0]
    s_ab = np.einsum("ikj,ik->ij", top_r, ma) / ma.sum(axis=1)[:, None]
    masked_k = np.where(ma[:, :, None, None] > 0, m, -np.inf)         # match only real tokens of a_i
    best_k = masked_k.argmax(axis=1)                                   # [i, j, r]
    top_k = np.take_along_axis(masked_k, best_k[:, None], axis=1)[:, 0]
    s_ba = np.einsum("ijr,jr->ji", top_k, mb) / mb.sum(axis=1)[:, None]
    return s_ab, s_ba, best_r, best_k


def scale_of(logit_scale, max_logit_scale):
    return math.exp(min(logit_scale, math.log(max_logit_scale)))


def filip_loss(a, ma, b, mb, logit_scale, max_logit_scale):
    s_ab, s_ba, _, _ = similarities(a, ma, b, mb)
    c = scale_of(logit_scale, max_logit_scale)
    batch = a.shape[0]
    l_ab = -np.trace(log_softmax(c * s_ab, axis=1)) / batch
    l_ba = -np.trace(log_softmax(c * s_ba, axis=1)) / batch
    return float((l_ab + l_ba) / 2)


def filip_gradients(a, ma, b, mb, logit_scale, max_logit_scale):
    """The hand-derived gradients of filip_loss with respect to a, b and logit_scale.

    With P_ab the row softmax of c s_ab, dloss/d(c s_ab) = (P_ab - I) / (2B), so G_ab = dloss/ds_ab =
    c (P_ab - I) / (2B), and the same for s_ba. s_ab[i, j] is a mean of maxima of M over k, so
        dloss/dM[i, k, j, r] = G_ab[i, j] ma[i, k] / |ma_i| [r = argmax_r]  +  G_ba[j, i] mb[j, r] / |mb_j| [k = argmax_k]
    M = u v^T per token pair gives dloss/du_ik = sum_jr dM v_jr and dloss/dv_jr = sum_ik dM u_ik, and
    through u = a / ||a||: dloss/da = (dloss/du - u <u, dloss/du>) / ||a|| (per token). The scale:
    dloss/dlogit_scale = sum(dloss/dlogits * logits) over both directions, 0 where the cap clamps it.
    """
    u, v = normalised(a), normalised(b)
    s_ab, s_ba, best_r, best_k = similarities(a, ma, b, mb)
    c = scale_of(logit_scale, max_logit_scale)
    batch, ta, _ = a.shape
    tb = b.shape[1]
    eye = np.eye(batch)
    d_logits_ab = (np.exp(log_softmax(c * s_ab, axis=1)) - eye) / (2 * batch)
    d_logits_ba = (np.exp(log_softmax(c * s_ba, axis=1)) - eye) / (2 * batch)
    g_ab, g_ba = c * d_logits_ab, c * d_logits_ba
    d_m = np.zeros((batch, ta, batch, tb))
    weight_a = ma / ma.sum(axis=1, keepdims=True)
    weight_b = mb / mb.sum(axis=1, keepdims=True)
    for i in range(batch):
        for j in range(batch):
            for k in range(ta):
                d_m[i, k, j, best_r[i, k, j]] += g_ab[i, j] * weight_a[i, k]
            for r in range(tb):
                d_m[i, best_k[i, j, r], j, r] += g_ba[j, i] * weight_b[j, r]
    grad_u = np.einsum("ikjr,jrd->ikd", d_m, v)
    grad_v = np.einsum("ikjr,ikd->jrd", d_m, u)
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=-1, keepdims=True)) / np.linalg.norm(a, axis=-1, keepdims=True)
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=-1, keepdims=True)) / np.linalg.norm(b, axis=-1, keepdims=True)
    clamped = logit_scale > math.log(max_logit_scale)
    grad_scale = 0.0 if clamped else float(np.sum(d_logits_ab * c * s_ab) + np.sum(d_logits_ba * c * s_ba))
    return grad_a, grad_b, grad_scale


def finite_difference_gradients(a, ma, b, mb, logit_scale, max_logit_scale):
    h = FINITE_DIFFERENCE_STEP
    grads = []
    for array in (a, b):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = filip_loss(a, ma, b, mb, logit_scale, max_logit_scale)
            array[index] = saved - h
            minus = filip_loss(a, ma, b, mb, logit_scale, max_logit_scale)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    plus = filip_loss(a, ma, b, mb, logit_scale + h, max_logit_scale)
    minus = filip_loss(a, ma, b, mb, logit_scale - h, max_logit_scale)
    grads.append((plus - minus) / (2 * h))
    return grads


def check_gradients(name, a, ma, b, mb, logit_scale, max_logit_scale):
    analytic = filip_gradients(a, ma, b, mb, logit_scale, max_logit_scale)
    numeric = finite_difference_gradients(a, ma, b, mb, logit_scale, max_logit_scale)
    for what, x, y in zip(("a", "b", "logit_scale"), analytic, numeric):
        error = np.max(np.abs(np.asarray(x) - np.asarray(y)) / np.maximum(1.0, np.abs(np.asarray(x))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite differences"
                                 f" by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def tokens(rng, batch, length, dim, base, noise):
    """Token features near each record's own direction (base [B, D]), so that pairs are alike."""
    return float32_rounded(base[:, None, :] + noise * rng.normal(size=(batch, length, dim)))


def mask_of(lengths, length):
    return np.array([[1.0 if k < n else 0.0 for k in range(length)] for n in lengths])


def case(name, a, ma, b, mb, temperature, max_logit_scale=100.0, logit_scale=None):
    """logit_scale defaults to log(1 / temperature), the parameter's initial value."""
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    check_gradients(name, a.copy(), ma, b.copy(), mb, logit_scale, max_logit_scale)
    grad_a, grad_b, grad_scale = filip_gradients(a, ma, b, mb, logit_scale, max_logit_scale)
    s_ab, s_ba, _, _ = similarities(a, ma, b, mb)
    return {
        "name": name,
        "temperature": temperature,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "a": a.tolist(),
        "mask_a": ma.tolist(),
        "b": b.tolist(),
        "mask_b": mb.tolist(),
        "similarity_ab": s_ab.tolist(),
        "similarity_ba": s_ba.tolist(),
        "loss": filip_loss(a, ma, b, mb, logit_scale, max_logit_scale),
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_logit_scale": grad_scale,
    }


def main():
    rng = np.random.default_rng(20211116)  # the arXiv date of the FILIP paper
    cases = []

    # Image-like a (every patch real), text-like b (padded after a per-record length).
    base = rng.normal(size=(4, 6))
    a = tokens(rng, 4, 5, 6, base, 0.8)
    b = tokens(rng, 4, 4, 6, base, 0.8)
    cases.append(case("b4_patches_and_padded_text", a, np.ones((4, 5)), b, mask_of([4, 2, 3, 1], 4), 0.07))

    # Both sides padded; the padded rows hold large values aligned with record 0, which must not count.
    base = rng.normal(size=(5, 4))
    a = tokens(rng, 5, 4, 4, base, 0.6)
    b = tokens(rng, 5, 6, 4, base, 0.6)
    ma, mb = mask_of([4, 1, 2, 3, 4], 4), mask_of([2, 6, 5, 1, 3], 6)
    a[ma == 0] = float32_rounded(10 * base[0])
    b[mb == 0] = float32_rounded(-7 * base[1])
    cases.append(case("b5_both_padded_with_decoy_padding", a, ma, b, mb, 0.1))

    base = rng.normal(size=(1, 3))
    cases.append(case("batch_of_one", tokens(rng, 1, 3, 3, base, 1.0), np.ones((1, 3)),
                      tokens(rng, 1, 2, 3, base, 1.0), mask_of([1], 2), 0.07))

    base = rng.normal(size=(6, 8))
    a = tokens(rng, 6, 9, 8, base, 1.0)
    b = tokens(rng, 6, 5, 8, base, 1.0)
    mb = mask_of([5, 3, 4, 2, 5, 1], 5)
    cases.append(case("b6_temperature_1", a, np.ones((6, 9)), b, mb, 1.0))
    cases.append(case("b6_temperature_0.02", a, np.ones((6, 9)), b, mb, 0.02))
    # A scale an optimiser step left above the cap: clamped to log(100), no gradient to logit_scale.
    cases.append(case("b6_scale_above_the_cap", a, np.ones((6, 9)), b, mb, 0.07, logit_scale=math.log(150.0)))

    document = {
        "description": "FILIP loss reference values from plugins/filip/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
