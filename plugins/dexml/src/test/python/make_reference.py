#!/usr/bin/env python3
"""Writes dexml_reference.json: reference values of the DecoupledSoftmax loss for DexmlLossTest.

The loss is DecoupledSoftmax of "Dual-Encoders for Extreme Multi-Label Classification" (Gupta et al.,
ICLR 2024, Section 4): the softmax cross-entropy of each positive of a query, with the query's OTHER
positives left out of the denominator, so that several positives do not compete with each other.
Over the in-batch pairs of two towers, with rows sharing a key (a group id or a class label) being
positives of each other:

    u = a / ||a||, v = b / ||b||,  S = exp(t) * u v^T        (t = logit_scale, clamped to log(max_logit_scale))
    P_ij = key(i) == key(j)  (so P_ii = 1),  N(i) = {j : P_ij = 0}
    l_ij = -S_ij + log(exp(S_ij) + sum_{n in N(i)} exp(S_in))          for P_ij = 1
    rows = 1/B sum_i 1/|P(i)| sum_{j: P_ij = 1} l_ij
    columns = the same over S^T (b's rows as queries)
    loss = (rows + columns) / 2,  or rows alone when not symmetric

With every key distinct, P = I and this is CLIP's symmetric InfoNCE exactly.

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written. Inputs are rounded to float32 first, so that the Java test feeds the
loss exactly the values the reference was computed from.

Run: python3 plugins/dexml/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "dexml_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def effective_logit_scale(logit_scale, max_logit_scale):
    return min(logit_scale, math.log(max_logit_scale))


def positives_of(keys):
    keys = np.asarray(keys)
    return (keys[:, None] == keys[None, :]).astype(np.float64)


def negative_log_sum_exp(logits, positives):
    """log sum_{n: P_in = 0} exp(S_in) per row; -inf for a row without negatives."""
    masked = np.where(positives > 0, -np.inf, logits)
    top = masked.max(axis=1, keepdims=True)
    safe_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe_top + np.log(np.exp(masked - safe_top).sum(axis=1, keepdims=True))


def one_direction(logits, positives):
    """1/B sum_i 1/|P(i)| sum_{j in P(i)} (-S_ij + log(exp(S_ij) + sum_n exp(S_in)))."""
    log_denominator = np.logaddexp(logits, negative_log_sum_exp(logits, positives))
    per_pair = np.where(positives > 0, log_denominator - logits, 0.0)
    return float(np.mean(per_pair.sum(axis=1) / positives.sum(axis=1)))


def dexml_loss(a, b, keys, logit_scale, max_logit_scale, symmetric):
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = math.exp(effective_logit_scale(logit_scale, max_logit_scale)) * u @ v.T
    positives = positives_of(keys)
    rows = one_direction(logits, positives)
    if not symmetric:
        return rows
    return (rows + one_direction(logits.T, positives.T)) / 2


def one_direction_gradient(logits, positives):
    """d rows / d S, by hand.

    For a query i with positives P(i) (|P(i)| = c_i) and D_ij = exp(S_ij) + sum_{n in N(i)} exp(S_in):
        d l_ij / d S_ij = -1 + exp(S_ij) / D_ij          (j in P(i))
        d l_ij / d S_in = exp(S_in) / D_ij               (n in N(i))
    so with rows = 1/B sum_i 1/c_i sum_j l_ij
        G_ij = (-1 + exp(S_ij) / D_ij) / (B c_i)                         j in P(i)
        G_in = exp(S_in) sum_{j in P(i)} (1 / D_ij) / (B c_i)           n in N(i)
    computed with the log-denominators so that nothing overflows.
    """
    batch = logits.shape[0]
    counts = positives.sum(axis=1, keepdims=True)
    log_denominator = np.logaddexp(logits, negative_log_sum_exp(logits, positives))
    own_share = np.exp(logits - log_denominator)  # exp(S_ij) / D_ij
    grad_positive = np.where(positives > 0, own_share - 1.0, 0.0)
    # sum over positives j of exp(S_in) / D_ij = exp(S_in + log sum_j exp(-log D_ij))
    inverse = np.where(positives > 0, -log_denominator, -np.inf)
    top = inverse.max(axis=1, keepdims=True)
    log_inverse_sum = top + np.log(np.exp(inverse - top).sum(axis=1, keepdims=True))
    grad_negative = np.where(positives > 0, 0.0, np.exp(logits + log_inverse_sum))
    return (grad_positive + grad_negative) / (batch * counts)


def dexml_gradients(a, b, keys, logit_scale, max_logit_scale, symmetric):
    """S = s u v^T with s = exp(t), so dL/du = s G v, dL/dv = s G^T u, dL/dt = sum(G * S) (0 where t is
    clamped), and through u = a / ||a|| per row: dL/da = (dL/du - u <u, dL/du>) / ||a||."""
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    clamped = logit_scale > math.log(max_logit_scale)
    scale = math.exp(effective_logit_scale(logit_scale, max_logit_scale))
    logits = scale * u @ v.T
    positives = positives_of(keys)
    grad_logits = one_direction_gradient(logits, positives)
    if symmetric:
        grad_logits = (grad_logits + one_direction_gradient(logits.T, positives.T).T) / 2
    grad_u = scale * grad_logits @ v
    grad_v = scale * grad_logits.T @ u
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    grad_logit_scale = 0.0 if clamped else float(np.sum(grad_logits * logits))
    return grad_a, grad_b, grad_logit_scale


def finite_difference_gradients(a, b, keys, logit_scale, max_logit_scale, symmetric):
    h = FINITE_DIFFERENCE_STEP
    grad_a = np.zeros_like(a)
    grad_b = np.zeros_like(b)
    for array, grad in ((a, grad_a), (b, grad_b)):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = dexml_loss(a, b, keys, logit_scale, max_logit_scale, symmetric)
            array[index] = saved - h
            minus = dexml_loss(a, b, keys, logit_scale, max_logit_scale, symmetric)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    plus = dexml_loss(a, b, keys, logit_scale + h, max_logit_scale, symmetric)
    minus = dexml_loss(a, b, keys, logit_scale - h, max_logit_scale, symmetric)
    return grad_a, grad_b, (plus - minus) / (2 * h)


def check_gradients(name, a, b, keys, logit_scale, max_logit_scale, symmetric):
    analytic = dexml_gradients(a, b, keys, logit_scale, max_logit_scale, symmetric)
    numeric = finite_difference_gradients(a, b, keys, logit_scale, max_logit_scale, symmetric)
    for what, x, y in zip(("a", "b", "logit_scale"), analytic, numeric):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def clip_loss(a, b, logit_scale):
    """CLIP's symmetric InfoNCE, written independently, for the case where every key differs."""
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    s = math.exp(logit_scale) * u @ v.T
    rows = np.mean([np.log(np.exp(s[i]).sum()) - s[i, i] for i in range(len(s))])
    columns = np.mean([np.log(np.exp(s[:, j]).sum()) - s[j, j] for j in range(len(s))])
    return (rows + columns) / 2


def float32_rounded(array):
    return array.astype(np.float32).astype(np.float64)


def paired(rng, keys, dim, noise):
    """Embeddings of the two towers: rows of one key near a centre per key, b's row i near a's row i."""
    keys = np.asarray(keys)
    centres = rng.normal(size=(keys.max() + 1, dim))
    a = centres[keys] + 0.6 * rng.normal(size=(keys.shape[0], dim))
    b = a + noise * rng.normal(size=a.shape)
    return float32_rounded(a), float32_rounded(b)


def case(name, a, b, keys, temperature, symmetric=True, max_logit_scale=100.0, logit_scale=None):
    """keys are what makes rows positives of each other: the Java test passes them both as group ids and as
    labels. logit_scale defaults to log(1 / temperature), the parameter's initial value."""
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    check_gradients(name, a.copy(), b.copy(), keys, logit_scale, max_logit_scale, symmetric)
    grad_a, grad_b, grad_logit_scale = dexml_gradients(a, b, keys, logit_scale, max_logit_scale, symmetric)
    positives = positives_of(keys)
    return {
        "name": name,
        "temperature": temperature,
        "symmetric": symmetric,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "keys": [int(k) for k in keys],
        "a": a.tolist(),
        "b": b.tolist(),
        "loss": dexml_loss(a, b, keys, logit_scale, max_logit_scale, symmetric) + 0.0,
        "extra_positives": float(np.mean(positives.sum(axis=1) - 1)),
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_logit_scale": grad_logit_scale,
    }


def main():
    rng = np.random.default_rng(20231016)  # the arXiv date of the DEXML paper
    cases = []
    keys = [0]
    a, b = paired(rng, keys, 4, 0.5)
    cases.append(case("batch_of_one", a, b, keys, 0.07))
    # Every key distinct: DecoupledSoftmax is CLIP's InfoNCE, checked here against a separate formula.
    keys = [0, 1, 2, 3, 4, 5]
    a, b = paired(rng, keys, 5, 0.5)
    distinct = case("distinct_keys_is_clip", a, b, keys, 0.07)
    assert abs(distinct["loss"] - clip_loss(a, b, distinct["logit_scale"])) < 1e-12, "distinct keys must give CLIP"
    cases.append(distinct)
    keys = [0, 1, 0, 2]
    a, b = paired(rng, keys, 3, 0.5)
    cases.append(case("b4_d3_one_shared_key", a, b, keys, 0.07))
    keys = [0, 1, 2, 0, 1, 3, 0, 4]
    a, b = paired(rng, keys, 16, 0.5)
    cases.append(case("b8_d16_three_positives", a, b, keys, 0.07))
    cases.append(case("b8_d16_queries_only", a, b, keys, 0.07, symmetric=False))
    # One key for the whole batch: no negatives at all, every denominator is the positive alone, the
    # loss is 0 and so is every gradient.
    keys = [3, 3, 3, 3]
    a, b = paired(rng, keys, 5, 0.5)
    cases.append(case("one_key_no_negatives", a, b, keys, 0.07))
    # One batch at three temperatures; at 0.001 the logits reach 1000 (max_logit_scale raised so that the
    # clamp does not hide it), where exp overflows float32 without the log-sum-exp shift.
    keys = [0, 1, 0, 2, 1, 0]
    a, b = paired(rng, keys, 8, 1.0)
    cases.append(case("temperature_0.001", a, b, keys, 0.001, max_logit_scale=10000.0))
    cases.append(case("temperature_0.07", a, b, keys, 0.07))
    cases.append(case("temperature_1", a, b, keys, 1.0))
    # An optimiser step left logit_scale above the cap: the loss uses a scale of 100, logit_scale gets no gradient.
    cases.append(case("logit_scale_clamped", a, b, keys, 0.01, logit_scale=math.log(1000.0)))
    document = {
        "description": "DEXML DecoupledSoftmax reference values from plugins/dexml/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
