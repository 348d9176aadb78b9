#!/usr/bin/env python3
"""Writes pairwise_reference.json: reference values of the pairwise loss for PairwiseLossTest.

The loss sums CLIP's symmetric InfoNCE ("Learning Transferable Visual Models From Natural Language
Supervision", Radford et al., 2021, Figure 3) over every pair k < l of N towers, with a weight per pair
and one temperature:

    u_k = e_k / ||e_k||                       (rows L2-normalised)
    S_kl = s u_k u_l^T,  s = exp(t)           (t = logit_scale, clamped to log(max_logit_scale))
    L_kl = (CE(S_kl, diag) + CE(S_kl^T, diag)) / 2
    loss = sum_{k<l} w_kl L_kl

numpy only (no torch), so the reference is independent of the engine under test. Gradients are derived
by hand below and checked against central finite differences in float64 before anything is written.
Inputs are rounded to float32 first, so the Java test feeds the loss exactly these values.

Run: python3 plugins/pairwise/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "pairwise_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def pairs_of(count):
    return [(k, l) for k in range(count) for l in range(k + 1, count)]


def effective_logit_scale(logit_scale, max_logit_scale):
    return min(logit_scale, math.log(max_logit_scale))


def info_nce(u, v, scale):
    logits = scale * u @ v.T
    rows = -np.mean(np.diag(log_softmax(logits, axis=1)))
    columns = -np.mean(np.diag(log_softmax(logits, axis=0)))
    return (rows + columns) / 2


def pair_losses(embeddings, logit_scale, max_logit_scale):
    units = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in embeddings]
    scale = math.exp(effective_logit_scale(logit_scale, max_logit_scale))
    return [info_nce(units[k], units[l], scale) for k, l in pairs_of(len(embeddings))]


def pairwise_loss(embeddings, weights, logit_scale, max_logit_scale):
    return sum(w * loss for w, loss in zip(weights, pair_losses(embeddings, logit_scale, max_logit_scale)))


def normalise_backward(e, grad_u):
    """u = e / ||e|| per row: dL/de = (dL/du - u <u, dL/du>) / ||e||."""
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    u = e / norm
    return (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm


def pairwise_gradients(embeddings, weights, logit_scale, max_logit_scale):
    """Hand-derived gradients with respect to every tower's raw embeddings and logit_scale.

    For one pair with logits S = s u v^T, P the row softmax and Q the column softmax of S:
        dL/dS = ((P - I) + (Q - I)) / (2B),  dL/du = s dL/dS v,  dL/dv = s (dL/dS)^T u,
        dL/dt = sum(dL/dS * S)   (dS/dt = S; zero where t is clamped).
    A tower in several pairs sums the weighted gradients of each; then each goes back through its
    row normalisation.
    """
    batch = embeddings[0].shape[0]
    units = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in embeddings]
    clamped = logit_scale > math.log(max_logit_scale)
    scale = math.exp(effective_logit_scale(logit_scale, max_logit_scale))
    grad_units = [np.zeros_like(e) for e in embeddings]
    grad_logit_scale = 0.0
    identity = np.eye(batch)
    for weight, (k, l) in zip(weights, pairs_of(len(embeddings))):
        logits = scale * units[k] @ units[l].T
        row_softmax = np.exp(log_softmax(logits, axis=1))
        column_softmax = np.exp(log_softmax(logits, axis=0))
        grad_logits = weight * ((row_softmax - identity) + (column_softmax - identity)) / (2 * batch)
        grad_units[k] += scale * grad_logits @ units[l]
        grad_units[l] += scale * grad_logits.T @ units[k]
        if not clamped:
            grad_logit_scale += float(np.sum(grad_logits * logits))
    grads = [normalise_backward(e, g) for e, g in zip(embeddings, grad_units)]
    return grads, grad_logit_scale


def finite_difference_gradients(embeddings, weights, logit_scale, max_logit_scale):
    h = FINITE_DIFFERENCE_STEP
    grads = []
    for array in embeddings:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = pairwise_loss(embeddings, weights, logit_scale, max_logit_scale)
            array[index] = saved - h
            minus = pairwise_loss(embeddings, weights, logit_scale, max_logit_scale)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    plus = pairwise_loss(embeddings, weights, logit_scale + h, max_logit_scale)
    minus = pairwise_loss(embeddings, weights, logit_scale - h, max_logit_scale)
    return grads, (plus - minus) / (2 * h)


def relative_error(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x))))


def check_gradients(name, embeddings, weights, logit_scale, max_logit_scale):
    copies = [e.copy() for e in embeddings]
    grads, grad_scale = pairwise_gradients(copies, weights, logit_scale, max_logit_scale)
    numeric, numeric_scale = finite_difference_gradients(copies, weights, logit_scale, max_logit_scale)
    for k, (x, y) in enumerate(zip(grads, numeric)):
        error = relative_error(x, y)
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient for tower {k} is off from finite differences by {error:.3g}")
    error = relative_error(grad_scale, numeric_scale)
    if not error < FINITE_DIFFERENCE_TOLERANCE:
        raise AssertionError(f"{name}: gradient for logit_scale is off from finite differences by {error:.3g}")
    print(f"  {name}: gradients match finite differences")


def float32_rounded(array):
    return array.astype(np.float32).astype(np.float64)


def towers_of(rng, count, batch, dim, noise):
    """Embeddings of `count` towers, row i of each near a shared row i, as real records are."""
    base = rng.normal(size=(batch, dim))
    return [float32_rounded(base + noise * rng.normal(size=(batch, dim))) for _ in range(count)]


def case(name, towers, embeddings, temperature, weights=None, max_logit_scale=100.0, logit_scale=None):
    count = len(embeddings)
    if weights is None:
        weights = [1.0] * len(pairs_of(count))
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    check_gradients(name, embeddings, weights, logit_scale, max_logit_scale)
    grads, grad_logit_scale = pairwise_gradients(embeddings, weights, logit_scale, max_logit_scale)
    return {
        "name": name,
        "towers": towers,
        "temperature": temperature,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "pair_weights": weights,
        "embeddings": [e.tolist() for e in embeddings],
        "loss": float(pairwise_loss(embeddings, weights, logit_scale, max_logit_scale)) + 0.0,
        "pair_losses": [float(x) + 0.0 for x in pair_losses(embeddings, logit_scale, max_logit_scale)],
        "grads": [g.tolist() for g in grads],
        "grad_logit_scale": grad_logit_scale + 0.0,
    }


def main():
    rng = np.random.default_rng(20240101)
    three = ["image", "text", "audio"]
    cases = [
        case("three_towers_b4_d3", three, towers_of(rng, 3, 4, 3, 0.5), 0.07),
        case("three_towers_b8_d16_weighted", three, towers_of(rng, 3, 8, 16, 0.5), 0.07, weights=[1.0, 0.5, 0.25]),
        case("batch_of_one", three, towers_of(rng, 3, 1, 4, 0.5), 0.07),
        case("two_towers_is_clip", ["image", "text"], towers_of(rng, 2, 5, 6, 0.5), 0.1),
        case("four_towers_one_pair_off", ["a", "b", "c", "d"], towers_of(rng, 4, 6, 5, 0.7), 0.07,
             weights=[1.0, 0.0, 2.0, 1.0, 0.5, 1.0]),
    ]
    embeddings = towers_of(rng, 3, 5, 6, 0.5)
    for e in embeddings:
        e[1] = e[0]
    cases.append(case("two_identical_rows", three, embeddings, 0.07))
    # Logits up to 1000: without the log-sum-exp shift exp() overflows float32.
    embeddings = towers_of(rng, 3, 6, 8, 1.0)
    cases.append(case("temperature_0.001", three, embeddings, 0.001, max_logit_scale=10000.0))
    # Logits up to 1e4, the scale at which float32 keeps only about three decimals of a logit.
    cases.append(case("temperature_0.0001", three, embeddings, 0.0001, max_logit_scale=100000.0))
    cases.append(case("temperature_1", three, embeddings, 1.0))
    # An optimiser step left logit_scale above the cap: the loss uses 100 and logit_scale gets no gradient.
    cases.append(case("logit_scale_clamped", three, embeddings, 0.01, logit_scale=math.log(1000.0)))
    document = {
        "description": "pairwise loss reference values from plugins/pairwise/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
