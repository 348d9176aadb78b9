#!/usr/bin/env python3
"""Writes look_reference.json: reference values of the LOOK loss for LookLossTest.

LOOK is the leave-one-out k-nearest-neighbour loss of "Rethinking Supervised Pre-training for Better
Downstream Transferring" (Feng, Jiang, Tang, Jin and Gao, ICLR 2022): each sample is classified by a
similarity-weighted vote of its k nearest neighbours, itself left out, and the loss is the negative log
of the weight its own class gets. It asks each sample to share its class with most of its neighbours
rather than with every sample of its class, so a class may keep several modes.

Here, as in plugins/supcon, the samples are the views of a batch: every named tower's L2-normalised
embeddings (V towers of B records give V * B views, view k * B + i being record i seen by tower k, with
record i's label); neighbours are looked for among the batch's other views:

    z = concat_k(normalise(x_k))                          [M, D], M = V * B
    A(a) = every view but a                               (leave one out)
    K(a) = the k views of A(a) most similar to a          (chosen without gradient; ties to the lower index)
    C(a) = {j in K(a) : label(j) == label(a)}
    if C(a) is empty but A(a) holds a view of a's class:  K(a) += {m}, C(a) = {m}, m that view most similar to a
    L_a = -log( sum_{c in C(a)} exp(z_a . z_c / t) / sum_{j in K(a)} exp(z_a . z_j / t) )
    loss = mean of L_a over the anchors whose class has another view in the batch (0 when there is none)

The step for an anchor without a class-mate among its k neighbours is this implementation's: the vote
gives its class nothing, -log 0 is infinite, and the nearest class-mate is what the anchor should pull
into its neighbourhood. The paper finds neighbours in a memory of the whole data set; here they are in
the batch.

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written; every case is checked to choose its neighbours by a margin, so that the
small steps of the finite differences and float32 rounding in Java cannot change the choice. Inputs are
rounded to float32 first, so that the Java test feeds the loss exactly the values the reference was
computed from.

Run: python3 plugins/look/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "look_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
SELECTION_MARGIN = 1e-3


def unit_views(views):
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) for x in views])


def neighbourhoods(similarity, labels, k):
    """The masks K (neighbours, with the nearest class-mate added where needed) and C (class-mates among
    them), which anchors count, and the smallest margin by which any choice was made."""
    m = similarity.shape[0]
    neighbours = np.zeros((m, m))
    classmates = np.zeros((m, m))
    counted = np.zeros(m, dtype=bool)
    margin = np.inf
    for a in range(m):
        others = [j for j in range(m) if j != a]
        # Most similar first; equal similarities in index order (a stable sort of the negated values).
        order = sorted(others, key=lambda j: (-similarity[a, j], j))
        chosen = order[:k]
        if len(order) > k:
            margin = min(margin, similarity[a, order[k - 1]] - similarity[a, order[k]])
        same = [j for j in others if labels[j] == labels[a]]
        if not same:
            continue
        counted[a] = True
        neighbours[a, chosen] = 1
        hits = [j for j in chosen if labels[j] == labels[a]]
        if hits:
            classmates[a, hits] = 1
        else:
            ranked = sorted(same, key=lambda j: (-similarity[a, j], j))
            if len(ranked) > 1:
                margin = min(margin, similarity[a, ranked[0]] - similarity[a, ranked[1]])
            neighbours[a, ranked[0]] = 1
            classmates[a, ranked[0]] = 1
    return neighbours, classmates, counted, margin


def masked_log_sum_exp(logits, mask):
    masked = np.where(mask > 0, logits, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (top + np.log(np.exp(masked - top).sum(axis=1, keepdims=True)))[:, 0]


def look_loss(views, labels, temperature, k):
    z = unit_views(views)
    tiled = np.tile(np.asarray(labels), len(views))
    similarity = z @ z.T
    neighbours, classmates, counted, _ = neighbourhoods(similarity, tiled, k)
    if not counted.any():
        return 0.0
    logits = (similarity / temperature)[counted]
    per_anchor = masked_log_sum_exp(logits, neighbours[counted]) - masked_log_sum_exp(logits, classmates[counted])
    return float(np.mean(per_anchor))


def look_gradients(views, labels, temperature, k):
    """The hand-derived gradients of look_loss with respect to each view's raw embeddings.

    For a counted anchor a, L_a = logsumexp_{K(a)} l_a. - logsumexp_{C(a)} l_a. with l = z z^T / t, so
        dL_a / dl_aj = softmax over K(a) of l_a. at j - softmax over C(a) of l_a. at j   (0 off K(a))
    and G = dloss/dl is that row for counted anchors over their number, 0 for the others. The choice of
    K and C is piecewise constant in z and carries no gradient. l = z z^T / t gives
    dloss/dz = (G + G^T) z / t, and through z = x / ||x|| per row: dloss/dx = (dz - z <z, dz>) / ||x||.
    """
    norms = [np.linalg.norm(x, axis=1, keepdims=True) for x in views]
    z = unit_views(views)
    tiled = np.tile(np.asarray(labels), len(views))
    similarity = z @ z.T
    neighbours, classmates, counted, _ = neighbourhoods(similarity, tiled, k)
    logits = similarity / temperature
    grad_logits = np.zeros_like(logits)
    if counted.any():
        rows = logits[counted]
        over_neighbours = np.exp(rows - masked_log_sum_exp(rows, neighbours[counted])[:, None]) * neighbours[counted]
        over_classmates = np.exp(rows - masked_log_sum_exp(rows, classmates[counted])[:, None]) * classmates[counted]
        grad_logits[counted] = (over_neighbours - over_classmates) / counted.sum()
    grad_z = (grad_logits + grad_logits.T) @ z / temperature
    grads = []
    batch = views[0].shape[0]
    for tower, norm in enumerate(norms):
        zk = z[tower * batch:(tower + 1) * batch]
        gk = grad_z[tower * batch:(tower + 1) * batch]
        grads.append((gk - zk * np.sum(zk * gk, axis=1, keepdims=True)) / norm)
    return grads


def finite_difference_gradients(views, labels, temperature, k):
    h = FINITE_DIFFERENCE_STEP
    grads = [np.zeros_like(x) for x in views]
    for array, grad in zip(views, grads):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = look_loss(views, labels, temperature, k)
            array[index] = saved - h
            minus = look_loss(views, labels, temperature, k)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    return grads


def check_gradients(name, views, labels, temperature, k):
    analytic = look_gradients(views, labels, temperature, k)
    numeric = finite_difference_gradients(views, labels, temperature, k)
    for tower, (x, y) in enumerate(zip(analytic, numeric)):
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to view {tower} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d view {tower} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def views_of(rng, labels, towers, dim, noise):
    """Embeddings of the towers: rows near a centre per class, plus noise per record and tower."""
    labels = np.asarray(labels)
    centres = rng.normal(size=(labels.max() + 1, dim))
    base = centres[labels] + 0.9 * rng.normal(size=(labels.shape[0], dim))
    return [float32_rounded(base + noise * rng.normal(size=base.shape)) for _ in range(towers)]


def case(rng, name, labels, towers, dim, noise, temperature, k):
    """Draws views until their neighbourhoods are chosen by a clear margin, then writes the case."""
    for _ in range(1000):
        views = views_of(rng, labels, towers, dim, noise)
        z = unit_views(views)
        tiled = np.tile(np.asarray(labels), towers)
        neighbours, classmates, counted, margin = neighbourhoods(z @ z.T, tiled, k)
        if margin > SELECTION_MARGIN:
            break
    else:
        raise AssertionError(f"{name}: no draw chose its neighbours by a margin of {SELECTION_MARGIN}")
    check_gradients(name, [x.copy() for x in views], labels, temperature, k)
    grads = look_gradients(views, labels, temperature, k)
    size = z.shape[0]
    hits = (classmates * (neighbours > 0)).sum(axis=1)
    chosen = min(k, size - 1)
    # Where the nearest class-mate was added, it is not one of the k nearest: count only true neighbours.
    added = (neighbours.sum(axis=1) > chosen) & counted
    agreement = np.where(added, 0.0, hits / max(chosen, 1))
    return {
        "name": name,
        "temperature": temperature,
        "k": k,
        "labels": [int(label) for label in labels],
        "views": [x.tolist() for x in views],
        "loss": look_loss(views, labels, temperature, k) + 0.0,
        "anchors_without_classmates": int(np.sum(~counted)),
        "anchors_with_added_classmate": int(np.sum(added)),
        "neighbour_agreement": float(np.mean(agreement[counted])) if counted.any() else 0.0,
        "grads": [g.tolist() for g in grads],
    }


def main():
    rng = np.random.default_rng(20211012)  # the arXiv date of the LOOK paper
    cases = []
    cases.append(case(rng, "batch_of_one_two_towers", [2], 2, 4, 0.5, 0.1, 3))
    cases.append(case(rng, "b6_d8_k3", [0, 1, 0, 2, 1, 0], 2, 8, 0.5, 0.1, 3))
    cases.append(case(rng, "b8_d16_k5", [0, 1, 2, 3, 0, 1, 2, 3], 2, 16, 0.5, 0.1, 5))
    # k = 1 with many classes: most anchors' single nearest view is of another class, so the nearest
    # class-mate is added to their neighbourhood.
    cases.append(case(rng, "k1_nearest_classmate_added", [0, 1, 2, 3, 0, 1, 2, 3, 4, 5], 2, 6, 2.0, 0.1, 1))
    # k larger than the batch: every other view is a neighbour, and LOOK is the loss of a weighted vote of all.
    cases.append(case(rng, "k_beyond_batch", [0, 1, 0, 1], 2, 5, 0.5, 0.1, 50))
    # One tower: records 1 and 3 have a class of their own and are left out.
    cases.append(case(rng, "one_tower_with_lone_anchors", [0, 1, 0, 2, 0], 1, 5, 0.5, 0.1, 3))
    cases.append(case(rng, "three_towers", [0, 1, 1, 2], 3, 4, 0.5, 0.1, 4))
    # At 0.001 the logits reach 1000, where exp overflows float32 without the log-sum-exp shift.
    for temperature in (0.001, 0.07, 1.0):
        cases.append(case(np.random.default_rng(7), f"temperature_{temperature}", [0, 1, 2, 0, 1, 2], 2, 8, 1.0,
                          temperature, 3))
    document = {
        "description": "LOOK loss reference values from plugins/look/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
