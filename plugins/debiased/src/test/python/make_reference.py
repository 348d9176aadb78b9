#!/usr/bin/env python3
"""Writes debiased_reference.json: reference values of the debiased contrastive loss for DebiasedLossTest.

The loss is Eq. (6) of "Debiased Contrastive Learning" (Chuang et al., NeurIPS 2020), with one
positive per anchor (M = 1), made cross-modal: for anchor a_i of the first tower the positive is
b_i and the negatives are the N = B - 1 rows b_j, j != i; the same with the towers swapped; the
loss is the mean of the two directions.

    u = a / ||a||, v = b / ||b||,  l = u v^T / t
    pos_i = exp(l_ii),  neg_i = sum_{j != i} exp(l_ij)
    Ng_i  = max( (neg_i - tau_plus * N * pos_i) / (1 - tau_plus),  N * exp(-1/t) )
    L_i   = -log( pos_i / (pos_i + Ng_i) )
    loss  = (mean_i L_i over l + mean_i L_i over l^T) / 2

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Every exponential is taken after subtracting the row's largest logit (the form is unchanged by it),
so logits in the thousands stay finite. Gradients are derived by hand below and checked here
against central finite differences in float64 before anything is written; a case is rejected if a
row sits so near the clamp that a finite difference would straddle it. Inputs are rounded to
float32 first, so that the Java test feeds the loss exactly the values the reference was computed
from.

Run: python3 plugins/debiased/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "debiased_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rows(logits, temperature, tau_plus):
    """Per row of logits: the shifted pos and neg sum, the estimator before the clamp, the clamp and the loss."""
    batch = logits.shape[0]
    negatives = batch - 1
    shift = logits.max(axis=1, keepdims=True)
    exps = np.exp(logits - shift)
    off_diagonal = 1.0 - np.eye(batch)
    pos = np.diag(exps)
    neg = np.sum(exps * off_diagonal, axis=1)
    estimate = (neg - tau_plus * negatives * pos) / (1 - tau_plus)
    floor = negatives * np.exp(-1.0 / temperature - shift[:, 0])
    clamped = estimate <= floor
    ng = np.where(clamped, floor, estimate)
    losses = np.log(pos + ng) - (np.diag(logits) - shift[:, 0])
    return exps, pos, ng, estimate, floor, clamped, losses


def debiased_loss(a, b, temperature, tau_plus):
    logits = normalised(a) @ normalised(b).T / temperature
    forward = rows(logits, temperature, tau_plus)[-1]
    backward = rows(logits.T, temperature, tau_plus)[-1]
    return float((np.mean(forward) + np.mean(backward)) / 2)


def row_gradient(logits, temperature, tau_plus):
    """d mean_i L_i / d logits for one direction.

    With everything scaled by exp(-shift_i), which cancels in L_i:
        dL_i/dl_ii = (pos_i - [not clamped] * tau_plus * N * pos_i / (1 - tau_plus)) / (pos_i + Ng_i) - 1
        dL_i/dl_ij = [not clamped] * exp(l_ij) / (1 - tau_plus) / (pos_i + Ng_i)    (j != i)
    since the clamp N * exp(-1/t) does not depend on the logits.
    """
    batch = logits.shape[0]
    negatives = batch - 1
    exps, pos, ng, _, _, clamped, _ = rows(logits, temperature, tau_plus)
    live = (~clamped).astype(np.float64)[:, None]
    denominator = (pos + ng)[:, None]
    grad = live * exps / (1 - tau_plus) / denominator * (1.0 - np.eye(batch))
    diagonal = (pos - live[:, 0] * tau_plus * negatives * pos / (1 - tau_plus)) / denominator[:, 0] - 1.0
    grad += np.diag(diagonal)
    return grad / batch


def debiased_gradients(a, b, temperature, tau_plus):
    """Through l = u v^T / t: dL/du = G v / t, dL/dv = G^T u / t, G = (G_forward + G_backward^T) / 2,
    and through the normalisation u = a / ||a|| (per row): dL/da = (dL/du - u <u, dL/du>) / ||a||."""
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u, v = a / norm_a, b / norm_b
    logits = u @ v.T / temperature
    grad_logits = (row_gradient(logits, temperature, tau_plus) + row_gradient(logits.T, temperature, tau_plus).T) / 2
    grad_u = grad_logits @ v / temperature
    grad_v = grad_logits.T @ u / temperature
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    return grad_a, grad_b


def finite_difference_gradients(a, b, temperature, tau_plus):
    h = FINITE_DIFFERENCE_STEP
    grad_a = np.zeros_like(a)
    grad_b = np.zeros_like(b)
    for array, grad in ((a, grad_a), (b, grad_b)):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = debiased_loss(a, b, temperature, tau_plus)
            array[index] = saved - h
            minus = debiased_loss(a, b, temperature, tau_plus)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    return grad_a, grad_b


def clamp_counts(a, b, temperature, tau_plus):
    """How many rows of both directions are clamped, after checking that none is near the clamp."""
    logits = normalised(a) @ normalised(b).T / temperature
    count = 0
    for direction in (logits, logits.T):
        _, _, _, estimate, floor, clamped, _ = rows(direction, temperature, tau_plus)
        if direction.shape[0] > 1 and np.any(np.abs(estimate - floor) < 1e-4 * np.maximum(floor, 1e-300)):
            raise AssertionError("a row is within 1e-4 of the clamp: pick other inputs")
        count += int(np.sum(clamped)) if direction.shape[0] > 1 else 0
    return count


def check_gradients(name, a, b, temperature, tau_plus):
    analytic = debiased_gradients(a, b, temperature, tau_plus)
    numeric = finite_difference_gradients(a, b, temperature, tau_plus)
    for what, x, y in zip(("a", "b"), analytic, numeric):
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


def case(name, a, b, temperature, tau_plus):
    clamped = clamp_counts(a, b, temperature, tau_plus)
    check_gradients(name, a.copy(), b.copy(), temperature, tau_plus)
    grad_a, grad_b = debiased_gradients(a, b, temperature, tau_plus)
    print(f"  {name}: {clamped} of {2 * a.shape[0]} rows clamped")
    return {
        "name": name,
        "temperature": temperature,
        "tau_plus": tau_plus,
        "a": a.tolist(),
        "b": b.tolist(),
        "loss": debiased_loss(a, b, temperature, tau_plus) + 0.0,  # + 0.0 turns -0.0 into 0.0
        "clamped_rows": clamped,
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
    }


def main():
    rng = np.random.default_rng(20200701)  # the arXiv date of the paper
    cases = []
    # The paper's defaults: t = 0.5, tau_plus = 0.1.
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, 0.5, 0.1))
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3", a, b, 0.5, 0.1))
    a, b = paired(rng, 8, 16, 0.5)
    cases.append(case("b8_d16", a, b, 0.5, 0.1))
    a, b = paired(rng, 5, 6, 0.5)
    a[1] = a[0]
    b[1] = b[0]
    cases.append(case("two_identical_rows", a, b, 0.5, 0.1))
    # One batch of close pairs across the estimator's range: tau_plus = 0 is InfoNCE, with no row
    # clamped; at tau_plus = 0.9 every row is.
    a, b = paired(rng, 6, 8, 0.7)
    cases.append(case("tau_plus_0", a, b, 0.5, 0.0))
    cases.append(case("temperature_1_tau_plus_0.1", a, b, 1.0, 0.1))
    cases.append(case("temperature_0.5_tau_plus_0.9", a, b, 0.5, 0.9))
    # One batch of loose pairs, where some rows are clamped and some not; at t = 0.001 the logits
    # reach 1000, where exp overflows float32 unless the row's maximum is subtracted first.
    a, b = paired(rng, 8, 8, 1.5)
    cases.append(case("loose_pairs_temperature_0.5_tau_plus_0.1", a, b, 0.5, 0.1))
    cases.append(case("loose_pairs_temperature_0.1_tau_plus_0.3", a, b, 0.1, 0.3))
    cases.append(case("loose_pairs_temperature_0.001_tau_plus_0.1", a, b, 0.001, 0.1))
    document = {
        "description": "Debiased contrastive loss reference values from "
                       "plugins/debiased/src/test/python/make_reference.py (numpy, float64, hand-derived "
                       "gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
