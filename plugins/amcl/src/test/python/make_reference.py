#!/usr/bin/env python3
"""Writes amcl_reference.json: reference values of the AMCL loss for AmclLossTest.

The loss follows "Adaptive Multi-head Contrastive Learning" (Wang, Koniusz, Gedeon and Zheng, ECCV 2024):
C projection heads, each giving its own view of the similarity of a pair, each with its own learned
temperature, and a regulariser on every temperature that keeps it from running off to an ill solution.
Over the in-batch pairs of two towers, with heads shared by both towers:

    p_h = normalise(a W_h),  q_h = normalise(b W_h)                 W_h [D, d'], a and b the raw embeddings
    t_h = min(logit_scale_h, log(max_logit_scale)),  tau_h = exp(-t_h)
    S_h = exp(t_h) p_h q_h^T
    L_h = (CE(S_h, diag) + CE(S_h^T, diag)) / 2 + beta * Omega(tau_h)
    Omega(tau) = d'/2 * log(tau) + 1/tau = -d'/2 * t + exp(t)
    loss = sum_h L_h

Omega is the regulariser of the first author's public code (github.com/LeiWangR/cl, amcl/losses.py,
omega(tau) = d'/2 log tau + 1/tau). The paper's temperatures are pair-adaptive, predicted by an MLP shared
across heads; here each head has one learned temperature.

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written. Inputs are rounded to float32 first, so that the Java test feeds the loss
exactly the values the reference was computed from.

Run: python3 plugins/amcl/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "amcl_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def clipped(logit_scale, max_logit_scale):
    return min(logit_scale, math.log(max_logit_scale))


def head_terms(a, b, weight, logit_scale, max_logit_scale, beta):
    """The head's InfoNCE and its regulariser."""
    p = a @ weight
    q = b @ weight
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = clipped(logit_scale, max_logit_scale)
    logits = math.exp(t) * p @ q.T
    info_nce = (-np.mean(np.diag(log_softmax(logits, 1))) - np.mean(np.diag(log_softmax(logits, 0)))) / 2
    head_dim = weight.shape[1]
    return info_nce, beta * (-head_dim / 2 * t + math.exp(t))


def amcl_loss(a, b, weights, logit_scales, max_logit_scale, beta):
    return float(sum(sum(head_terms(a, b, w, s, max_logit_scale, beta)) for w, s in zip(weights, logit_scales)))


def amcl_gradients(a, b, weights, logit_scales, max_logit_scale, beta):
    """The hand-derived gradients of amcl_loss with respect to a, b, every W_h and every logit_scale_h.

    Per head, with P = a W and p = P / ||P|| per row (likewise Q, q from b), S = s p q^T, s = exp(t):
        G = dL/dS = ((softmax_rows(S) - I) + (softmax_columns(S) - I)) / (2B)
        dL/dp = s G q,  dL/dq = s G^T p,  dL/dP = (dL/dp - p <p, dL/dp>) / ||P||  (per row)
        dL/da += dL/dP W^T,  dL/db += dL/dQ W^T,  dL/dW = a^T dL/dP + b^T dL/dQ
        dL/dt = sum(G * S) + beta * (-d'/2 + exp(t))      (0 where t is clipped)
    """
    batch = a.shape[0]
    grad_a = np.zeros_like(a)
    grad_b = np.zeros_like(b)
    grad_weights = []
    grad_scales = []
    identity = np.eye(batch)
    for weight, logit_scale in zip(weights, logit_scales):
        big_p = a @ weight
        big_q = b @ weight
        norm_p = np.linalg.norm(big_p, axis=1, keepdims=True)
        norm_q = np.linalg.norm(big_q, axis=1, keepdims=True)
        p = big_p / norm_p
        q = big_q / norm_q
        t = clipped(logit_scale, max_logit_scale)
        scale = math.exp(t)
        logits = scale * p @ q.T
        grad_logits = ((np.exp(log_softmax(logits, 1)) - identity) + (np.exp(log_softmax(logits, 0)) - identity)) \
            / (2 * batch)
        grad_p = scale * grad_logits @ q
        grad_q = scale * grad_logits.T @ p
        grad_big_p = (grad_p - p * np.sum(p * grad_p, axis=1, keepdims=True)) / norm_p
        grad_big_q = (grad_q - q * np.sum(q * grad_q, axis=1, keepdims=True)) / norm_q
        grad_a += grad_big_p @ weight.T
        grad_b += grad_big_q @ weight.T
        grad_weights.append(a.T @ grad_big_p + b.T @ grad_big_q)
        head_dim = weight.shape[1]
        if logit_scale > math.log(max_logit_scale):
            grad_scales.append(0.0)
        else:
            grad_scales.append(float(np.sum(grad_logits * logits) + beta * (-head_dim / 2 + scale)))
    return grad_a, grad_b, grad_weights, grad_scales


def finite_difference_gradients(a, b, weights, logit_scales, max_logit_scale, beta):
    h = FINITE_DIFFERENCE_STEP

    def loss():
        return amcl_loss(a, b, weights, logit_scales, max_logit_scale, beta)

    arrays = [a, b] + list(weights)
    grads = [np.zeros_like(x) for x in arrays]
    for array, grad in zip(arrays, grads):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = loss()
            array[index] = saved - h
            minus = loss()
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    scales = []
    for c in range(len(logit_scales)):
        saved = logit_scales[c]
        logit_scales[c] = saved + h
        plus = loss()
        logit_scales[c] = saved - h
        minus = loss()
        logit_scales[c] = saved
        scales.append((plus - minus) / (2 * h))
    return grads[0], grads[1], grads[2:], scales


def check_gradients(name, a, b, weights, logit_scales, max_logit_scale, beta):
    analytic = amcl_gradients(a, b, weights, logit_scales, max_logit_scale, beta)
    numeric = finite_difference_gradients(a, b, weights, logit_scales, max_logit_scale, beta)
    pairs = [("a", analytic[0], numeric[0]), ("b", analytic[1], numeric[1])]
    pairs += [(f"W_{c}", x, y) for c, (x, y) in enumerate(zip(analytic[2], numeric[2]))]
    pairs += [("logit_scales", np.array(analytic[3]), np.array(numeric[3]))]
    for what, x, y in pairs:
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def case(rng, name, batch, dim, head_dim, heads, temperatures, beta=0.01, max_logit_scale=100.0, logit_scales=None):
    a = float32_rounded(rng.normal(size=(batch, dim)))
    b = float32_rounded(a + 0.5 * rng.normal(size=(batch, dim)))
    weights = [float32_rounded(rng.normal(size=(dim, head_dim)) / math.sqrt(dim)) for _ in range(heads)]
    if logit_scales is None:
        logit_scales = [math.log(1.0 / t) for t in temperatures]
    logit_scales = [float(np.float32(s)) for s in logit_scales]
    check_gradients(name, a.copy(), b.copy(), [w.copy() for w in weights], list(logit_scales), max_logit_scale, beta)
    grad_a, grad_b, grad_weights, grad_scales = amcl_gradients(a, b, weights, logit_scales, max_logit_scale, beta)
    terms = [head_terms(a, b, w, s, max_logit_scale, beta) for w, s in zip(weights, logit_scales)]
    return {
        "name": name,
        "beta": beta,
        "max_logit_scale": max_logit_scale,
        "logit_scales": logit_scales,
        "a": a.tolist(),
        "b": b.tolist(),
        "weights": [w.tolist() for w in weights],
        "loss": amcl_loss(a, b, weights, logit_scales, max_logit_scale, beta),
        "head_losses": [float(info_nce) for info_nce, _ in terms],
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_weights": [g.tolist() for g in grad_weights],
        "grad_logit_scales": grad_scales,
    }


def main():
    rng = np.random.default_rng(20231009)  # the arXiv date of the AMCL paper
    cases = [
        case(rng, "batch_of_one", 1, 4, 3, 2, [0.07, 0.2]),
        case(rng, "b4_d3_one_head", 4, 3, 3, 1, [0.1]),
        case(rng, "b6_d8_three_heads_d4", 6, 8, 4, 3, [0.05, 0.1, 0.5]),
        case(rng, "b8_d16_two_heads_wider", 8, 16, 24, 2, [0.07, 0.07]),
        case(rng, "no_regulariser", 5, 6, 4, 2, [0.07, 0.3], beta=0.0),
        case(rng, "strong_regulariser", 5, 6, 4, 2, [0.07, 0.3], beta=1.0),
        # At a temperature of 0.001 the logits reach 1000, where exp overflows float32 without the shift.
        case(rng, "temperature_0.001", 6, 8, 4, 2, [0.001, 1.0], max_logit_scale=10000.0),
        # An optimiser step left the first head's scale above the cap: it is used at the cap, with no gradient.
        case(rng, "first_head_clipped", 6, 8, 4, 2, None, logit_scales=[math.log(1000.0), math.log(10.0)]),
    ]
    document = {
        "description": "AMCL loss reference values from plugins/amcl/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
