#!/usr/bin/env python3
"""Writes cwcl_reference.json: reference values of the CWCL loss for CwclLossTest.

The loss is the Continuously Weighted Contrastive Loss of "CWCL: Cross-Modal Transfer with
Continuously Weighted Contrastive Loss" (Srinivasa et al., NeurIPS 2023): InfoNCE whose one-hot
targets are replaced by weights from the intra-modal similarity that a frozen tower sees.

    u = a / ||a||, v = b / ||b||, q = t / ||t||    (rows L2-normalised; t is the frozen teacher's)
    W = (1 + q q^T) / 2                             (w_ij = <q_i, q_j> / 2 + 1/2, in [0, 1], w_ii = 1)
    P = W / rowsum(W)                               (each anchor's weights sum to one)
    S = exp(s) * u v^T                              (s = logit_scale, clamped to log(max_logit_scale))
    L_ab = -1/B sum_ij P_ij log softmax_j(S_i.)     (anchors in a, candidates in b)
    L_ba = -1/B sum_ij P_ji log softmax_i(S_.j)     (anchors in b, candidates in a, same weights)
    loss = (L_ab + L_ba) / 2

The teacher's embeddings are constants (a frozen tower; the loss stops gradients through them even
where the teacher is one of the two contrasted towers), so the finite differences below perturb a,
b and the scale with t held fixed.

numpy only (no torch), so the reference is independent of the engine under test. Gradients are
derived by hand and checked against central finite differences in float64 before anything is
written. Inputs are rounded to float32 first, so that the Java test feeds the loss exactly the
values the reference was computed from.

Run: python3 plugins/cwcl/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "cwcl_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def targets(t):
    q = normalise(t)
    w = (1.0 + q @ q.T) / 2.0
    return w / w.sum(axis=1, keepdims=True)


def scale_of(logit_scale, max_logit_scale):
    return math.exp(min(logit_scale, math.log(max_logit_scale)))


def cwcl_loss(a, b, t, logit_scale, max_logit_scale):
    batch = a.shape[0]
    p = targets(t)
    logits = scale_of(logit_scale, max_logit_scale) * normalise(a) @ normalise(b).T
    rows = -np.sum(p * log_softmax(logits, axis=1)) / batch
    columns = -np.sum(p.T * log_softmax(logits, axis=0)) / batch
    return (rows + columns) / 2


def cwcl_gradients(a, b, t, logit_scale, max_logit_scale):
    """The hand-derived gradients of cwcl_loss with respect to a, b and logit_scale.

    With R the row softmax of S and C its column softmax, and since every row of P sums to one:
        d(-sum_j P_ij log R_ij)/dS_ij = R_ij - P_ij,   d(-sum_i P_ji log C_ij)/dS_ij = C_ij - P_ji
    so G = dL/dS = ((R - P) + (C - P^T)) / (2B). S = s u v^T with s = exp(logit_scale), hence
        dL/du = s G v,  dL/dv = s G^T u,  dL/dlogit_scale = sum(G * S)  (0 where clamped)
    and through u = a / ||a|| (per row): dL/da = (dL/du - u <u, dL/du>) / ||a||.
    """
    batch = a.shape[0]
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    p = targets(t)
    clamped = logit_scale > math.log(max_logit_scale)
    scale = scale_of(logit_scale, max_logit_scale)
    logits = scale * u @ v.T
    rows = np.exp(log_softmax(logits, axis=1))
    columns = np.exp(log_softmax(logits, axis=0))
    grad_logits = ((rows - p) + (columns - p.T)) / (2 * batch)
    grad_u = scale * grad_logits @ v
    grad_v = scale * grad_logits.T @ u
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    grad_logit_scale = 0.0 if clamped else float(np.sum(grad_logits * logits))
    return grad_a, grad_b, grad_logit_scale


def finite_difference_gradients(a, b, t, logit_scale, max_logit_scale):
    h = FINITE_DIFFERENCE_STEP
    grads = []
    for array in (a, b):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = cwcl_loss(a, b, t, logit_scale, max_logit_scale)
            array[index] = saved - h
            minus = cwcl_loss(a, b, t, logit_scale, max_logit_scale)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    plus = cwcl_loss(a, b, t, logit_scale + h, max_logit_scale)
    minus = cwcl_loss(a, b, t, logit_scale - h, max_logit_scale)
    return grads[0], grads[1], (plus - minus) / (2 * h)


def check_gradients(name, a, b, t, logit_scale, max_logit_scale):
    analytic = cwcl_gradients(a, b, t, logit_scale, max_logit_scale)
    numeric = finite_difference_gradients(a.copy(), b.copy(), t.copy(), logit_scale, max_logit_scale)
    for what, x, y in zip(("a", "b", "logit_scale"), analytic, numeric):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def paired(rng, batch, dim, noise):
    """Embeddings of the two towers, row i of b near row i of a, as real pairs are."""
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def case(name, a, b, teacher, t, temperature, max_logit_scale=100.0, logit_scale=None):
    """teacher is "t" for a third tower with embeddings t, or "b" where the second tower is the
    frozen teacher itself (the paper's setting); logit_scale defaults to log(1 / temperature)."""
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    t = float32_rounded(t)
    check_gradients(name, a, b, t, logit_scale, max_logit_scale)
    grad_a, grad_b, grad_logit_scale = cwcl_gradients(a, b, t, logit_scale, max_logit_scale)
    return {
        "name": name,
        "temperature": temperature,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "teacher": teacher,
        "a": a.tolist(),
        "b": b.tolist(),
        "t": t.tolist(),
        "targets": targets(t).tolist(),
        "loss": float(cwcl_loss(a, b, t, logit_scale, max_logit_scale)) + 0.0,
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_logit_scale": grad_logit_scale,
    }


def main():
    rng = np.random.default_rng(20230926)  # the arXiv date of the CWCL paper
    cases = []
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, "t", rng.normal(size=(1, 3)), 0.07))
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3_teacher_d5", a, b, "t", rng.normal(size=(4, 5)), 0.07))
    a, b = paired(rng, 8, 16, 0.5)
    cases.append(case("b8_d16_teacher_near_b", a, b, "t", b[:, :6] + 0.3 * rng.normal(size=(8, 6)), 0.07))
    # The paper's own setting: the second tower is the frozen, pretrained one and weighs the targets.
    a, b = paired(rng, 6, 5, 0.7)
    cases.append(case("teacher_is_the_second_tower", a, b, "b", b, 0.07))
    # Two identical records: the teacher sees them as one (w = 1), so each is the other's full positive.
    a, b = paired(rng, 5, 6, 0.5)
    a[1] = a[0]
    b[1] = b[0]
    t = rng.normal(size=(5, 4))
    t[1] = t[0]
    cases.append(case("two_identical_rows", a, b, "t", t, 0.07))
    # A teacher that sees every record alike: uniform targets, the loss no longer prefers the pairs.
    a, b = paired(rng, 4, 4, 0.5)
    cases.append(case("uniform_teacher", a, b, "t", np.tile(rng.normal(size=(1, 3)), (4, 1)), 0.07))
    # One batch at three temperatures; at 0.001 the logits reach 1000, where a softmax without the
    # log-sum-exp shift overflows float32.
    a, b = paired(rng, 6, 8, 1.0)
    t = rng.normal(size=(6, 4))
    cases.append(case("temperature_0.001", a, b, "t", t, 0.001, max_logit_scale=10000.0))
    cases.append(case("temperature_0.07", a, b, "t", t, 0.07))
    cases.append(case("temperature_1", a, b, "t", t, 1.0))
    # An optimiser step has pushed logit_scale above the cap: the scale is 100, its gradient 0.
    cases.append(case("logit_scale_clamped", a, b, "t", t, 0.01, max_logit_scale=100.0,
                      logit_scale=math.log(1000.0)))
    document = {
        "description": "CWCL loss reference values from plugins/cwcl/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
