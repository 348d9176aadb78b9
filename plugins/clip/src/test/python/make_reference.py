#!/usr/bin/env python3
"""Writes clip_reference.json: reference values of the CLIP loss for ClipLossTest.

The loss is the symmetric InfoNCE of "Learning Transferable Visual Models From Natural Language
Supervision" (Radford et al., 2021), Figure 3:

    u = a / ||a||, v = b / ||b||            (rows L2-normalised)
    S = exp(t) * u v^T                        (t = logit_scale, clamped to log(max_logit_scale))
    loss = (CE(S, diag) + CE(S^T, diag)) / 2

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written. Inputs are rounded to float32 first, so that the Java test feeds the
loss exactly the values the reference was computed from.

Run: python3 plugins/clip/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "clip_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def effective_logit_scale(logit_scale, max_logit_scale):
    return min(logit_scale, math.log(max_logit_scale))


def clip_loss(a, b, logit_scale, max_logit_scale):
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = math.exp(effective_logit_scale(logit_scale, max_logit_scale)) * u @ v.T
    rows = -np.mean(np.diag(log_softmax(logits, axis=1)))
    columns = -np.mean(np.diag(log_softmax(logits, axis=0)))
    return (rows + columns) / 2


def clip_gradients(a, b, logit_scale, max_logit_scale):
    """The hand-derived gradients of clip_loss with respect to a, b and logit_scale.

    With S the logits, P = softmax of S over each row and Q = softmax of S over each column:
        dL/dS = ((P - I) + (Q - I)) / (2B)
    S = s u v^T with s = exp(t), so
        dL/du = s G v,  dL/dv = s G^T u,  dL/dt = sum(G * S)   (G = dL/dS; dS/dt = S)
    and dL/dt = 0 where t is clamped. Through the normalisation u = a / ||a|| (per row):
        dL/da = (dL/du - u <u, dL/du>) / ||a||
    """
    batch = a.shape[0]
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    clamped = logit_scale > math.log(max_logit_scale)
    scale = math.exp(effective_logit_scale(logit_scale, max_logit_scale))
    logits = scale * u @ v.T
    row_softmax = np.exp(log_softmax(logits, axis=1))
    column_softmax = np.exp(log_softmax(logits, axis=0))
    identity = np.eye(batch)
    grad_logits = ((row_softmax - identity) + (column_softmax - identity)) / (2 * batch)
    grad_u = scale * grad_logits @ v
    grad_v = scale * grad_logits.T @ u
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    grad_logit_scale = 0.0 if clamped else float(np.sum(grad_logits * logits))
    return grad_a, grad_b, grad_logit_scale


def finite_difference_gradients(a, b, logit_scale, max_logit_scale):
    h = FINITE_DIFFERENCE_STEP
    grad_a = np.zeros_like(a)
    grad_b = np.zeros_like(b)
    for array, grad in ((a, grad_a), (b, grad_b)):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = clip_loss(a, b, logit_scale, max_logit_scale)
            array[index] = saved - h
            minus = clip_loss(a, b, logit_scale, max_logit_scale)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    plus = clip_loss(a, b, logit_scale + h, max_logit_scale)
    minus = clip_loss(a, b, logit_scale - h, max_logit_scale)
    return grad_a, grad_b, (plus - minus) / (2 * h)


def check_gradients(name, a, b, logit_scale, max_logit_scale):
    analytic = clip_gradients(a, b, logit_scale, max_logit_scale)
    numeric = finite_difference_gradients(a, b, logit_scale, max_logit_scale)
    for what, x, y in zip(("a", "b", "logit_scale"), analytic, numeric):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return array.astype(np.float32).astype(np.float64)


def paired(rng, batch, dim, noise):
    """Embeddings of the two towers, row i of b near row i of a, as real pairs are."""
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def case(name, a, b, temperature, max_logit_scale=100.0, logit_scale=None):
    """logit_scale defaults to log(1 / temperature), the parameter's initial value; a case may set it
    above log(max_logit_scale) to stand for a value an optimiser step left there."""
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    check_gradients(name, a.copy(), b.copy(), logit_scale, max_logit_scale)
    grad_a, grad_b, grad_logit_scale = clip_gradients(a, b, logit_scale, max_logit_scale)
    return {
        "name": name,
        "temperature": temperature,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "a": a.tolist(),
        "b": b.tolist(),
        "loss": float(clip_loss(a, b, logit_scale, max_logit_scale)) + 0.0,  # + 0.0 turns -0.0 into 0.0
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_logit_scale": grad_logit_scale,
    }


def main():
    rng = np.random.default_rng(20210226)  # the arXiv date of the CLIP paper
    cases = []
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, 0.07))
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3", a, b, 0.07))
    a, b = paired(rng, 8, 16, 0.5)
    cases.append(case("b8_d16", a, b, 0.07))
    a, b = paired(rng, 5, 6, 0.5)
    a[1] = a[0]
    b[1] = b[0]
    cases.append(case("two_identical_rows", a, b, 0.07))
    # One batch at three temperatures. At 0.001 the logits reach 1000, where a softmax without the
    # log-sum-exp shift overflows float32 (exp(89) is already infinite); max_logit_scale is raised
    # so that the clamp does not hide it.
    a, b = paired(rng, 6, 8, 1.0)
    cases.append(case("temperature_0.001", a, b, 0.001, max_logit_scale=10000.0))
    cases.append(case("temperature_0.07", a, b, 0.07))
    cases.append(case("temperature_1", a, b, 1.0))
    # An optimiser step has pushed logit_scale to log(1000), above the paper's cap of log(100):
    # the loss uses a scale of 100 and logit_scale gets no gradient.
    cases.append(case("logit_scale_clamped", a, b, 0.01, max_logit_scale=100.0, logit_scale=math.log(1000.0)))
    document = {
        "description": "CLIP loss reference values from plugins/clip/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
