#!/usr/bin/env python3
"""Writes supcon_reference.json: reference values of the SupCon loss for SupConLossTest.

The loss is L^sup_out, Eq. (2) of "Supervised Contrastive Learning" (Khosla et al., NeurIPS 2020),
over the multi-view batch made of every tower's L2-normalised embeddings (V towers of B rows give
V * B views; view k * B + i is record i seen by tower k and carries record i's label):

    z = concat_k(normalise(x_k))                         [V * B, D]
    A(i) = every view but i;  P(i) = {p in A(i): label(p) == label(i)}
    L_i = -1 / |P(i)| * sum_{p in P(i)} log( exp(z_i . z_p / t) / sum_{a in A(i)} exp(z_i . z_a / t) )
    loss = (t / base_t) * mean of L_i over the anchors with |P(i)| > 0

With base_t = t (the default) this is Eq. (2) as printed; the authors' code scales by t / base_t
with base_t = 0.07. Anchors without a positive (possible with one tower only) are left out of the
mean, since Eq. (2) divides by |P(i)|.

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written. Inputs are rounded to float32 first, so that the Java test feeds the
loss exactly the values the reference was computed from.

Run: python3 plugins/supcon/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "supcon_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def masks(labels, views):
    """The positive mask P (same label, not self) over the views, and which anchors have positives."""
    view_labels = np.tile(np.asarray(labels), views)
    n = view_labels.shape[0]
    positives = (view_labels[:, None] == view_labels[None, :]) & ~np.eye(n, dtype=bool)
    return positives.astype(np.float64), positives.sum(axis=1) > 0


def log_softmax_without_self(logits):
    """log(exp(l_ij) / sum_{k != i} exp(l_ik)) for j != i (the diagonal is left as -inf)."""
    masked = np.where(np.eye(logits.shape[0], dtype=bool), -np.inf, logits)
    shifted = masked - masked.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def supcon_loss(views, labels, temperature, base_temperature):
    z = np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) for x in views])
    positives, anchors = masks(labels, len(views))
    log_prob = log_softmax_without_self(z @ z.T / temperature)
    log_prob = np.where(positives > 0, log_prob, 0.0)
    per_anchor = -np.sum(log_prob, axis=1)[anchors] / positives.sum(axis=1)[anchors]
    return float((temperature / base_temperature) * np.mean(per_anchor))


def supcon_gradients(views, labels, temperature, base_temperature):
    """The hand-derived gradients of supcon_loss with respect to each view's raw embeddings.

    With l = z z^T / t and S the softmax of each row over A(i) (zero on the diagonal), for an
    anchor i with positives, dL_i/dl_ij = S_ij - P_ij / |P(i)|, so with c = (t / base_t) / #anchors
        G = dloss/dl = c * (S - P / |P|) on the rows of anchors, 0 on the others
    l = z z^T / t gives dloss/dz = (G + G^T) z / t, and through the normalisation z = x / ||x||
    (per row): dloss/dx = (dloss/dz - z <z, dloss/dz>) / ||x||.
    """
    norms = [np.linalg.norm(x, axis=1, keepdims=True) for x in views]
    z = np.concatenate([x / n for x, n in zip(views, norms)])
    positives, anchors = masks(labels, len(views))
    softmax = np.exp(log_softmax_without_self(z @ z.T / temperature))
    counts = np.maximum(positives.sum(axis=1, keepdims=True), 1.0)
    grad_logits = (softmax - positives / counts) * anchors[:, None]
    grad_logits *= (temperature / base_temperature) / anchors.sum()
    grad_z = (grad_logits + grad_logits.T) @ z / temperature
    grads = []
    batch = views[0].shape[0]
    for k, norm in enumerate(norms):
        zk = z[k * batch:(k + 1) * batch]
        gk = grad_z[k * batch:(k + 1) * batch]
        grads.append((gk - zk * np.sum(zk * gk, axis=1, keepdims=True)) / norm)
    return grads


def finite_difference_gradients(views, labels, temperature, base_temperature):
    h = FINITE_DIFFERENCE_STEP
    grads = [np.zeros_like(x) for x in views]
    for array, grad in zip(views, grads):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = supcon_loss(views, labels, temperature, base_temperature)
            array[index] = saved - h
            minus = supcon_loss(views, labels, temperature, base_temperature)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    return grads


def check_gradients(name, views, labels, temperature, base_temperature):
    analytic = supcon_gradients(views, labels, temperature, base_temperature)
    numeric = finite_difference_gradients(views, labels, temperature, base_temperature)
    for k, (x, y) in enumerate(zip(analytic, numeric)):
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to view {k} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d view {k} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def views_of(rng, labels, towers, dim, noise):
    """Embeddings of the towers: rows near a centre per class, plus noise per record and tower."""
    labels = np.asarray(labels)
    centres = rng.normal(size=(labels.max() + 1, dim))
    base = centres[labels] + 0.7 * rng.normal(size=(labels.shape[0], dim))
    return [float32_rounded(base + noise * rng.normal(size=base.shape)) for _ in range(towers)]


def case(name, views, labels, temperature, base_temperature=None):
    """base_temperature None stands for the default: equal to the temperature, no scaling."""
    base = temperature if base_temperature is None else base_temperature
    check_gradients(name, [x.copy() for x in views], labels, temperature, base)
    grads = supcon_gradients(views, labels, temperature, base)
    _, anchors = masks(labels, len(views))
    return {
        "name": name,
        "temperature": temperature,
        "base_temperature": base_temperature,
        "labels": [int(label) for label in labels],
        "views": [x.tolist() for x in views],
        "loss": supcon_loss(views, labels, temperature, base),
        "anchors_without_positives": int(np.sum(~anchors)),
        "grads": [g.tolist() for g in grads],
    }


def main():
    rng = np.random.default_rng(20200423)  # the arXiv date of the SupCon paper
    cases = []
    # Two towers: every anchor has at least the other tower's view of its record as a positive.
    labels = [2]
    cases.append(case("batch_of_one", views_of(rng, labels, 2, 4, 0.5), labels, 0.1))
    labels = [0, 1, 0, 2]
    cases.append(case("b4_d3", views_of(rng, labels, 2, 3, 0.5), labels, 0.1))
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    cases.append(case("b8_d16", views_of(rng, labels, 2, 16, 0.5), labels, 0.1))
    cases.append(case("b8_d16_base_temperature_0.07", views_of(rng, labels, 2, 16, 0.5), labels, 0.1, 0.07))
    labels = [1, 1, 1, 1, 1]
    cases.append(case("one_class", views_of(rng, labels, 2, 6, 0.5), labels, 0.1))
    labels = [0, 1, 2, 3, 4, 5]
    cases.append(case("all_distinct_labels", views_of(rng, labels, 2, 6, 0.5), labels, 0.1))
    labels = [0, 0, 1, 2, 1]
    views = views_of(rng, labels, 2, 6, 0.5)
    for x in views:
        x[1] = x[0]
    cases.append(case("two_identical_rows", views, labels, 0.1))
    # One tower: records 1 and 3 have a label of their own, so they have no positive and are left out.
    labels = [0, 1, 0, 2, 0]
    cases.append(case("one_tower_with_lone_anchors", views_of(rng, labels, 1, 5, 0.5), labels, 0.1))
    labels = [0, 1, 1]
    cases.append(case("three_towers", views_of(rng, labels, 3, 4, 0.5), labels, 0.1))
    # One batch at three temperatures; at 0.001 the logits reach 1000, where exp overflows float32
    # unless the log-softmax subtracts each row's maximum.
    labels = [0, 1, 2, 0, 1, 2]
    views = views_of(rng, labels, 2, 8, 1.0)
    cases.append(case("temperature_0.001", views, labels, 0.001))
    cases.append(case("temperature_0.07", views, labels, 0.07))
    cases.append(case("temperature_1", views, labels, 1.0))
    document = {
        "description": "SupCon loss reference values from plugins/supcon/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
