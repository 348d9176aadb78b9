#!/usr/bin/env python3
"""Writes soft_multilabel_reference.json: reference values of the soft multi-label contrastive loss
for SoftMultilabelLossTest.

Soft contrastive targets from multi-label overlap, after "Multi-Label Guided Soft Contrastive
Learning for Efficient Earth Observation Pretraining" (SoftCon, Wang, Albrecht and Zhu, 2024):

    u = a / ||a||, v = b / ||b||               (rows L2-normalised)
    S = u v^T / temperature
    K_ij = jaccard(y_i, y_j) = <y_i, y_j> / (|y_i|^2 + |y_j|^2 - <y_i, y_j>)   (0 where both are empty)
        or cosine(y_i, y_j) = <y_i, y_j> / (|y_i| |y_j|)                         (0 where one is empty)
    K_ii = 1                                   (a record's own pair is always a full positive)
    P = K / rowsum(K)
    loss = (-1/B sum_ij P_ij log softmax_j(S_i.) - 1/B sum_ij P_ji log softmax_i(S_.j)) / 2

The label vectors y are multi-hot (0/1), so the Jaccard form above is |A & B| / |A | B|. They are
constants: no gradient flows into them.

numpy only (no torch). Gradients are derived by hand and checked against central finite differences
in float64 before anything is written; inputs are rounded to float32 first.

Run: python3 plugins/soft-multilabel/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "soft_multilabel_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def label_similarity(y, similarity):
    inner = y @ y.T
    squares = np.diag(inner)
    if similarity == "jaccard":
        union = squares[:, None] + squares[None, :] - inner
        k = np.where(union > 0, inner / np.where(union > 0, union, 1), 0.0)
    else:
        norms = np.sqrt(squares)
        denominator = norms[:, None] * norms[None, :]
        k = np.where(denominator > 0, inner / np.where(denominator > 0, denominator, 1), 0.0)
    np.fill_diagonal(k, 1.0)
    return k


def targets(y, similarity):
    k = label_similarity(y, similarity)
    return k / k.sum(axis=1, keepdims=True)


def soft_loss(a, b, y, temperature, similarity):
    batch = a.shape[0]
    p = targets(y, similarity)
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = u @ v.T / temperature
    rows = -np.sum(p * log_softmax(logits, 1)) / batch
    columns = -np.sum(p.T * log_softmax(logits, 0)) / batch
    return (rows + columns) / 2


def soft_gradients(a, b, y, temperature, similarity):
    """dL/dS = ((R - P) + (C - P^T)) / (2B) (rows of P sum to one), S = u v^T / t, then through the
    normalisation: dL/da = (g - u <u, g>) / ||a|| with g = dL/du = G v / t."""
    batch = a.shape[0]
    p = targets(y, similarity)
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    logits = u @ v.T / temperature
    grad_logits = ((np.exp(log_softmax(logits, 1)) - p) + (np.exp(log_softmax(logits, 0)) - p.T)) / (2 * batch)
    grad_u = grad_logits @ v / temperature
    grad_v = grad_logits.T @ u / temperature
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    return grad_a, grad_b


def check_gradients(name, a, b, y, temperature, similarity):
    analytic = soft_gradients(a, b, y, temperature, similarity)
    h = FINITE_DIFFERENCE_STEP
    for what, array, grad in (("a", a, analytic[0]), ("b", b, analytic[1])):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = soft_loss(a, b, y, temperature, similarity)
            array[index] = saved - h
            minus = soft_loss(a, b, y, temperature, similarity)
            array[index] = saved
            numeric[index] = (plus - minus) / (2 * h)
        error = np.max(np.abs(grad - numeric) / np.maximum(1.0, np.abs(grad)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite differences "
                                 f"by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def multi_hot(label_sets, classes):
    y = np.zeros((len(label_sets), classes))
    for i, labels in enumerate(label_sets):
        for label in labels:
            y[i, label] = 1.0
    return y


def paired(rng, batch, dim, noise):
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def float32_gradient(a, b, y, temperature, similarity):
    """The gradient with respect to b as float32 arithmetic gives it, the same formulas as soft_gradients."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    t = np.float32(temperature)
    p = targets(y, similarity).astype(np.float32)
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    v = b / norm_b
    logits = u @ v.T / t

    def softmax(x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    grad_logits = ((softmax(logits, 1) - p) + (softmax(logits, 0) - p.T)) / np.float32(2 * a.shape[0])
    grad_v = grad_logits.T @ u / t
    return (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b


def float32_resolves(name, a, b, y, temperature, similarity):
    """Fails when float32 rounding alone moves the gradient by more than a quarter of the Java test's 1e-5."""
    exact = soft_gradients(a, b, y, temperature, similarity)[1]
    error = np.max(np.abs(float32_gradient(a, b, y, temperature, similarity) - exact) / np.maximum(1.0, np.abs(exact)))
    if not error < 2.5e-6:
        raise AssertionError(f"{name}: float32 arithmetic alone is off by {error:.3g}; the case cannot be matched "
                             "to 1e-5, choose inputs whose logits are not nearly tied")


def case(name, a, b, label_sets, classes, temperature, similarity):
    # The loss divides by the temperature as a float32 scalar; at 0.001 the rounding alone (5e-8
    # relative) moves logits of 1000 by 5e-5, so the reference uses the same rounded value.
    temperature = float(np.float32(temperature))
    y = multi_hot(label_sets, classes)
    check_gradients(name, a.copy(), b.copy(), y, temperature, similarity)
    float32_resolves(name, a, b, y, temperature, similarity)
    grad_a, grad_b = soft_gradients(a, b, y, temperature, similarity)
    return {
        "name": name,
        "temperature": temperature,
        "similarity": similarity,
        "classes": classes,
        "label_sets": [sorted(set(labels)) for labels in label_sets],
        "a": a.tolist(),
        "b": b.tolist(),
        "targets": targets(y, similarity).tolist(),
        "loss": float(soft_loss(a, b, y, temperature, similarity)) + 0.0,
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
    }


def main():
    rng = np.random.default_rng(20240530)  # the arXiv date of the SoftCon paper
    cases = []
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, [[2, 3]], 5, 0.07, "jaccard"))
    overlapping = [[0, 1], [1, 2, 3], [4], [0, 1], [], [2, 3]]
    a, b = paired(rng, 6, 5, 0.5)
    cases.append(case("overlapping_jaccard", a, b, overlapping, 5, 0.1, "jaccard"))
    cases.append(case("overlapping_cosine", a, b, overlapping, 5, 0.1, "cosine"))
    # One label per record, as the shapes data has: targets spread evenly over same-class records.
    a, b = paired(rng, 8, 6, 0.5)
    single = [[0], [1], [0], [2], [1], [0], [3], [4]]
    cases.append(case("one_label_per_record", a, b, single, 5, 0.07, "jaccard"))
    cases.append(case("one_label_per_record_cosine", a, b, single, 5, 0.07, "cosine"))
    # Two identical records with identical labels; two records without labels (not alike each other).
    a, b = paired(rng, 5, 4, 0.5)
    a[1] = a[0]
    b[1] = b[0]
    cases.append(case("duplicates_and_empty_sets", a, b, [[1, 2], [1, 2], [], [], [0, 1, 2, 3]], 4, 0.07, "jaccard"))
    # At temperature 0.001 the logits reach 1000. float32 itself rounds them by about 1000 * 6e-8, so
    # where two candidates of a row are nearly tied their softmax is only good to about 1e-4 in any
    # float32 implementation; this batch's pairs stand clear of the other candidates, and
    # float32_resolves checks that the case is decided by the loss, not by the rounding.
    a, b = paired(rng, 6, 8, 0.5)
    labels = [[0, 3], [3], [1, 2], [0, 1, 2, 3], [2], [1]]
    cases.append(case("temperature_0.001", a, b, labels, 4, 0.001, "jaccard"))
    cases.append(case("temperature_1", a, b, labels, 4, 1.0, "cosine"))
    document = {
        "description": "Soft multi-label contrastive loss reference values from "
                       "plugins/soft-multilabel/src/test/python/make_reference.py (numpy, float64, hand-derived "
                       "gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
