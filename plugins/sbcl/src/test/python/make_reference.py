#!/usr/bin/env python3
"""Writes sbcl_reference.json: reference values of the SBCL loss for SbclLossTest.

The bi-granularity contrastive loss of "Subclass-balancing Contrastive Learning for Long-tailed
Recognition" (Hou, Zhang, Wang and Zhou, ICCV 2023) for GIVEN subclass assignments (the clustering
that produces them is tested separately, in Java). The multi-view batch is every tower's
L2-normalised embeddings, as in SupCon: V towers of B records give N = V * B views, view k * B + r
being record r seen by tower k, with record r's class y_r and subclass (y_r, c_r):

    z = concat_k(normalise(x_k))                                        [N, D]
    O(i)  = the other views of i's own record
    subclass level, temperature t1 (one for all anchors):
      A1(i) = every view but i
      P1(i) = {p != i : same subclass as i}
    class level, temperature t2(i) (that of i's class):
      A2(i) = {a : subclass != i's} + O(i)
      P2(i) = {p : same class, subclass != i's} + O(i)
    L_i(A, P, t) = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) )
    term(A, P, t) = mean of L_i over the anchors with |P(i)| > 0 (0 when there are none)
    loss = (t1 / base_t) * term(A1, P1, t1) + class_weight * term(A2, P2, t2)

The class level pulls an anchor towards the views of its class in OTHER subclasses, against the views
of every other subclass; O(i), the other views of its own record, are added to both sets as in the
authors' code (its `ad_mask`), so that every anchor of a record seen by two towers has a positive.
With every record in subclass 0 of its class (before the first clustering) the subclass term is
SupCon. base_t = t1 (None) means no scaling.

numpy only (no torch), so the reference is independent of the engine under test. Gradients are derived
by hand below and checked against central finite differences in float64 before anything is written.
Inputs (embeddings and class temperatures) are rounded to float32 first, so the Java test feeds the
loss exactly the numbers this script used.

Run: python3 plugins/sbcl/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "sbcl_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def masks(labels, clusters, towers):
    """The denominator and positive masks of both levels over the N = towers * B views."""
    labels = np.tile(np.asarray(labels), towers)
    clusters = np.tile(np.asarray(clusters), towers)
    batch = len(labels) // towers
    record = np.tile(np.arange(batch), towers)
    n = len(labels)
    eye = np.eye(n, dtype=bool)
    same_class = labels[:, None] == labels[None, :]
    same_subclass = same_class & (clusters[:, None] == clusters[None, :])
    own_record = (record[:, None] == record[None, :]) & ~eye
    return {
        "a1": ~eye,
        "p1": same_subclass & ~eye,
        "a2": ~same_subclass | own_record,
        "p2": (same_class & ~same_subclass) | own_record,
    }


def normalised(views):
    norms = [np.linalg.norm(x, axis=1, keepdims=True) for x in views]
    return np.concatenate([x / n for x, n in zip(views, norms)]), norms


def log_softmax_over(logits, allowed):
    """log(exp(l_ij) / sum_{a allowed in row i} exp(l_ia)) on the allowed entries, -inf elsewhere."""
    masked = np.where(allowed, logits, -np.inf)
    peak = masked.max(axis=1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # a row with nothing allowed has no anchor
    shifted = masked - peak
    return shifted - np.log(np.maximum(np.exp(shifted).sum(axis=1, keepdims=True), 1e-300))


def term(similarity, allowed, positives, row_temperature):
    """The mean of L_i over the anchors with positives, and dterm / dsimilarity."""
    logits = similarity / row_temperature[:, None]
    log_prob = log_softmax_over(logits, allowed)
    counts = positives.sum(axis=1)
    anchors = counts > 0
    if not anchors.any():
        return 0.0, np.zeros_like(similarity)
    per_anchor = -np.where(positives, log_prob, 0.0).sum(axis=1)[anchors] / counts[anchors]
    value = float(np.mean(per_anchor))
    # dL_i/dl_ij = S_ij - P_ij / |P(i)| with S the softmax over A(i); l = s / t_i.
    softmax = np.where(allowed, np.exp(np.where(allowed, log_prob, 0.0)), 0.0)
    grad_logits = (softmax - positives / np.maximum(counts, 1)[:, None]) * anchors[:, None] / anchors.sum()
    return value, grad_logits / row_temperature[:, None]


def sbcl(views, labels, clusters, class_temperatures, p):
    """The loss, both terms, and the hand-derived gradient with respect to each tower's raw embeddings."""
    towers = len(views)
    z, norms = normalised(views)
    m = masks(labels, clusters, towers)
    similarity = z @ z.T
    n = z.shape[0]
    base = p["temperature"] if p["base_temperature"] is None else p["base_temperature"]
    scale = p["temperature"] / base
    sub_value, sub_grad = term(similarity, m["a1"], m["p1"], np.full(n, p["temperature"]))
    class_value, class_grad = term(similarity, m["a2"], m["p2"], np.tile(np.asarray(class_temperatures), towers))
    loss = scale * sub_value + p["class_weight"] * class_value
    grad_similarity = scale * sub_grad + p["class_weight"] * class_grad
    # s = z z^T: ds_ij feeds z_i and z_j; then z = x / ||x|| row by row.
    grad_z = (grad_similarity + grad_similarity.T) @ z
    batch = views[0].shape[0]
    grads = []
    for k, norm in enumerate(norms):
        zk = z[k * batch:(k + 1) * batch]
        gk = grad_z[k * batch:(k + 1) * batch]
        grads.append((gk - zk * np.sum(zk * gk, axis=1, keepdims=True)) / norm)
    return loss, sub_value, class_value, grads


def finite_difference_gradients(views, labels, clusters, class_temperatures, p):
    h = FINITE_DIFFERENCE_STEP
    grads = [np.zeros_like(x) for x in views]
    for array, grad in zip(views, grads):
        for index in np.ndindex(array.shape):
            saved = array[index]
            step = h * max(1.0, abs(saved))
            array[index] = saved + step
            plus = sbcl(views, labels, clusters, class_temperatures, p)[0]
            array[index] = saved - step
            minus = sbcl(views, labels, clusters, class_temperatures, p)[0]
            array[index] = saved
            grad[index] = (plus - minus) / (2 * step)
    return grads


def check_gradients(name, views, labels, clusters, class_temperatures, p):
    analytic = sbcl(views, labels, clusters, class_temperatures, p)[3]
    numeric = finite_difference_gradients([x.copy() for x in views], labels, clusters, class_temperatures, p)
    worst = 0.0
    for k, (x, y) in enumerate(zip(analytic, numeric)):
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to view {k} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        worst = max(worst, error)
    print(f"  {name}: gradients match finite differences to {worst:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def views_of(rng, labels, clusters, towers, dim, noise, scale=1.0):
    """Rows near a centre per subclass (itself near its class's centre), plus noise per record and tower."""
    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    class_centres = rng.normal(size=(labels.max() + 1, dim))
    sub_centres = class_centres[:, None, :] + 0.6 * rng.normal(size=(labels.max() + 1, clusters.max() + 1, dim))
    base = sub_centres[labels, clusters] + 0.5 * rng.normal(size=(labels.shape[0], dim))
    return [float32_rounded(scale * (base + noise * rng.normal(size=base.shape))) for _ in range(towers)]


def case(name, views, labels, clusters, class_temperatures, temperature=0.1, base_temperature=None,
         class_weight=0.25):
    class_temperatures = [float(t) for t in float32_rounded(class_temperatures)]
    p = {"temperature": temperature, "base_temperature": base_temperature, "class_weight": class_weight}
    check_gradients(name, views, labels, clusters, class_temperatures, p)
    loss, sub_value, class_value, grads = sbcl(views, labels, clusters, class_temperatures, p)
    return {
        "name": name,
        "temperature": temperature,
        "base_temperature": base_temperature,
        "class_weight": class_weight,
        "labels": [int(x) for x in labels],
        "clusters": [int(x) for x in clusters],
        "class_temperatures": class_temperatures,
        "views": [x.tolist() for x in views],
        "loss": loss,
        "subclass_loss": sub_value,
        "class_loss": class_value,
        "grads": [g.tolist() for g in grads],
    }


def main():
    rng = np.random.default_rng(20230628)  # the arXiv date of the SBCL paper
    cases = []
    labels, clusters = [3], [0]
    cases.append(case("batch_of_one", views_of(rng, labels, clusters, 2, 4, 0.5), labels, clusters, [0.1]))
    # Before the first clustering: every record in subclass 0 of its class.
    labels, clusters = [0, 1, 0, 2, 1, 0], [0, 0, 0, 0, 0, 0]
    cases.append(case("before_clustering", views_of(rng, labels, clusters, 2, 8, 0.5), labels, clusters,
                      [0.1] * 6))
    # Class 0 in two subclasses, with a temperature of its own; classes 1 and 2 in one each.
    labels, clusters = [0, 0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 0, 0, 0]
    cases.append(case("two_subclasses_b7_d5", views_of(rng, labels, clusters, 2, 5, 0.5), labels, clusters,
                      [0.08, 0.08, 0.08, 0.08, 0.12, 0.12, 0.1]))
    # A long tail: class 0 in three subclasses, class 1 in two, classes 2 and 3 in one.
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    clusters = [0, 1, 2, 0, 1, 2, 0, 1, 0, 0, 0, 0]
    temps = {0: 0.07, 1: 0.13, 2: 0.1, 3: 0.1}
    views = views_of(rng, labels, clusters, 2, 16, 0.5)
    cases.append(case("long_tail_b12_d16", views, labels, clusters, [temps[y] for y in labels]))
    cases.append(case("long_tail_base_temperature_0.07_weight_1", views, labels, clusters,
                      [temps[y] for y in labels], base_temperature=0.07, class_weight=1.0))
    cases.append(case("long_tail_class_weight_0", views, labels, clusters, [temps[y] for y in labels],
                      class_weight=0.0))
    # One tower: lone anchors without positives at either level are left out of that level's mean.
    labels, clusters = [0, 0, 0, 1, 2, 2], [0, 1, 0, 0, 0, 1]
    cases.append(case("one_tower_with_lone_anchors", views_of(rng, labels, clusters, 1, 5, 0.5), labels,
                      clusters, [0.09, 0.09, 0.09, 0.1, 0.11, 0.11]))
    labels, clusters = [0, 0, 1], [0, 0, 0]
    cases.append(case("one_tower_one_subclass_each", views_of(rng, labels, clusters, 1, 4, 0.5), labels,
                      clusters, [0.1, 0.1, 0.1]))
    labels, clusters = [0, 0, 1, 0], [0, 1, 0, 1]
    cases.append(case("three_towers", views_of(rng, labels, clusters, 3, 4, 0.5), labels, clusters,
                      [0.08, 0.08, 0.1, 0.08]))
    labels, clusters = [0, 0, 1, 0, 1], [0, 1, 0, 0, 0]
    views = views_of(rng, labels, clusters, 2, 6, 0.5)
    for x in views:
        x[3] = x[0]
    cases.append(case("duplicate_rows", views, labels, clusters, [0.1] * 5))
    # Embeddings of magnitude 1e4: the normalisation must not overflow or lose the direction.
    labels, clusters = [0, 0, 1, 1, 0], [0, 1, 0, 0, 0]
    cases.append(case("embeddings_of_magnitude_1e4", views_of(rng, labels, clusters, 2, 6, 0.5, scale=1e4),
                      labels, clusters, [0.1] * 5))
    # One batch at several temperatures; at 0.01 the logits reach 100, at 0.001 1000.
    labels, clusters = [0, 1, 0, 1, 0, 2], [0, 0, 1, 0, 1, 0]
    views = views_of(rng, labels, clusters, 2, 8, 1.0)
    cases.append(case("temperature_0.01", views, labels, clusters, [0.02] * 6, temperature=0.01))
    cases.append(case("temperature_0.001", views, labels, clusters, [0.001] * 6, temperature=0.001))
    cases.append(case("temperature_1", views, labels, clusters, [1.0] * 6, temperature=1.0))
    document = {
        "description": "SBCL loss reference values for given subclasses from plugins/sbcl/src/test/python/"
                       "make_reference.py (numpy, float64, hand-derived gradients checked against central "
                       "finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
