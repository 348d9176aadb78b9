#!/usr/bin/env python3
"""Writes the reference values of the three regularisers of "Understanding and Constructing Latent
Modality Structures in Multi-modal Representation Learning" (Jiang et al., CVPR 2023) for the Java tests:

  geometric_consistency_reference.json    U, V rows L2-normalised; A = U U^T, T = V V^T, C = U V^T
      loss = intra_weight * mean((A - T)^2) + inter_weight * mean((C - C^T)^2)

  brownian_bridge_reference.json           x, y the end points, m the intermediate point (normalised rows)
      mu_i = (1 - t_i) x_i + t_i y_i,  var_i = t_i (1 - t_i)
      d_ij = -||m_j - mu_i||^2 / (2 var_i)             bridge i scores every intermediate point j
      loss = mean_i [ -d_ii + logsumexp_j d_ij ]       the bridge's own point against the batch's others

  deep_feature_separation_reference.json   per tower: z the embedding, f its feature (z, or the masked
      mean of its tokens), W the loss's modality-specific head
      Z = z / ||z||, P = normalise(f W^T),  loss = sum over towers of ||Z^T P||_F^2 / B^2

numpy only (no torch). Gradients are derived by hand below and checked against central finite
differences in float64 before anything is written. Inputs are rounded to float32 first.

Run: python3 plugins/modality-structure/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

RESOURCES = pathlib.Path(__file__).resolve().parents[1] / "resources"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
NORM_EPSILON = 1e-12


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), NORM_EPSILON)


def normalise_backward(x, grad_out):
    """y = x / ||x|| per row: dL/dx = (g - y <y, g>) / ||x||."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    y = x / norm
    return (grad_out - y * np.sum(y * grad_out, axis=1, keepdims=True)) / norm


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def check(name, loss_of, inputs, analytic):
    """Central finite differences of loss_of(*inputs) against the analytic gradients, input by input."""
    h = FINITE_DIFFERENCE_STEP
    inputs = [x.copy() for x in inputs]
    for k, (array, grad) in enumerate(zip(inputs, analytic)):
        if grad is None:
            continue
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = loss_of(*inputs)
            array[index] = saved - h
            minus = loss_of(*inputs)
            array[index] = saved
            numeric[index] = (plus - minus) / (2 * h)
        error = float(np.max(np.abs(grad - numeric) / np.maximum(1.0, np.abs(grad))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient of input {k} is off from finite differences by {error:.3g}")
    print(f"  {name}: gradients match finite differences")


# ---- geometric consistency -------------------------------------------------------------------------

def geometric_consistency(a, b, intra_weight, inter_weight):
    u, v = normalise(a), normalise(b)
    intra = np.mean((u @ u.T - v @ v.T) ** 2)
    inter = np.mean((u @ v.T - v @ u.T) ** 2)
    return intra_weight * intra + inter_weight * inter, intra, inter


def geometric_consistency_gradients(a, b, intra_weight, inter_weight):
    """With D_intra = U U^T - V V^T (symmetric) and D_inter = C - C^T (antisymmetric), C = U V^T:
        dL/d(U U^T) = 2 w1 D_intra / B^2 =: G,  dL/d(V V^T) = -G,  dL/dC = 4 w2 D_inter / B^2 =: H
    (the C^T term doubles H, since D_inter^T = -D_inter). U U^T gives dU = (G + G^T) U = 2 G U, C gives
    dU += H V and dV += H^T U; then back through the row normalisations.
    """
    batch = a.shape[0]
    u, v = normalise(a), normalise(b)
    g = 2 * intra_weight * (u @ u.T - v @ v.T) / batch ** 2
    c = u @ v.T
    h = 4 * inter_weight * (c - c.T) / batch ** 2
    grad_u = 2 * g @ u + h @ v
    grad_v = -2 * g @ v + h.T @ u
    return normalise_backward(a, grad_u), normalise_backward(b, grad_v)


def geometric_case(name, a, b, intra_weight=1.0, inter_weight=1.0):
    grads = geometric_consistency_gradients(a, b, intra_weight, inter_weight)
    check(name, lambda x, y: geometric_consistency(x, y, intra_weight, inter_weight)[0], [a, b], grads)
    loss, intra, inter = geometric_consistency(a, b, intra_weight, inter_weight)
    return {"name": name, "intra_weight": intra_weight, "inter_weight": inter_weight, "a": a.tolist(),
            "b": b.tolist(), "loss": float(loss) + 0.0, "intra": float(intra) + 0.0, "inter": float(inter) + 0.0,
            "grad_a": grads[0].tolist(), "grad_b": grads[1].tolist()}


# ---- Brownian bridge -------------------------------------------------------------------------------

def bridge_scores(x, y, m, t):
    xu, yu, mu_ = normalise(x), normalise(y), normalise(m)
    mean = (1 - t)[:, None] * xu + t[:, None] * yu
    variance = t * (1 - t)
    squared = np.sum((mu_[None, :, :] - mean[:, None, :]) ** 2, axis=2)  # [bridge i, point j]
    return -squared / (2 * variance[:, None]), mean, mu_


def brownian_bridge(x, y, m, t):
    scores, _, _ = bridge_scores(x, y, m, t)
    return -np.mean(np.diag(log_softmax(scores, axis=1)))


def brownian_bridge_gradients(x, y, m, t):
    """With G = dL/dd = (softmax_j(d_i.) - I) / B and d_ij = -||m_j - mu_i||^2 / (2 var_i):
        dL/dm_j = sum_i G_ij (mu_i - m_j) / var_i,   dL/dmu_i = sum_j G_ij (m_j - mu_i) / var_i,
        dL/dx_i = (1 - t_i) dL/dmu_i,  dL/dy_i = t_i dL/dmu_i;  then the row normalisations.
    """
    batch = x.shape[0]
    scores, mean, mu_ = bridge_scores(x, y, m, t)
    variance = t * (1 - t)
    g = (np.exp(log_softmax(scores, axis=1)) - np.eye(batch)) / batch
    weights = g / variance[:, None]  # G_ij / var_i
    grad_m = weights.T @ mean - weights.sum(axis=0)[:, None] * mu_
    grad_mean = weights @ mu_ - weights.sum(axis=1)[:, None] * mean
    grad_x = (1 - t)[:, None] * grad_mean
    grad_y = t[:, None] * grad_mean
    return normalise_backward(x, grad_x), normalise_backward(y, grad_y), normalise_backward(m, grad_m)


def bridge_case(name, x, y, m, t):
    t = np.asarray(t, dtype=np.float64)
    grads = brownian_bridge_gradients(x, y, m, t)
    check(name, lambda a, b, c: brownian_bridge(a, b, c, t), [x, y, m], grads)
    _, mean, mu_ = bridge_scores(x, y, m, t)
    distance = float(np.mean(np.linalg.norm(mu_ - mean, axis=1)))
    return {"name": name, "t": t.tolist(), "x": x.tolist(), "y": y.tolist(), "m": m.tolist(),
            "loss": float(brownian_bridge(x, y, m, t)) + 0.0, "distance": distance,
            "grad_x": grads[0].tolist(), "grad_y": grads[1].tolist(), "grad_m": grads[2].tolist()}


# ---- deep feature separation -----------------------------------------------------------------------

def pooled(tokens, mask):
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    return (tokens * mask[:, :, None]).sum(axis=1) / count, count


def separation_term(z, feature, head):
    zu = normalise(z)
    pu = normalise(feature @ head.T)
    overlap = zu.T @ pu
    return np.sum(overlap ** 2) / z.shape[0] ** 2


def separation_term_gradients(z, feature, head):
    """M = Z^T P with Z, P the normalised rows of z and p = f W^T; L = ||M||^2 / B^2:
        dM = 2 M / B^2,  dZ = P dM^T,  dP = Z dM,  dp = normalise_backward(p, dP),
        dW = dp^T f,  df = dp W,  dz = normalise_backward(z, dZ) (+ df where f is z).
    """
    batch = z.shape[0]
    zu = normalise(z)
    p = feature @ head.T
    pu = normalise(p)
    grad_overlap = 2 * (zu.T @ pu) / batch ** 2
    grad_p = normalise_backward(p, zu @ grad_overlap)
    return normalise_backward(z, pu @ grad_overlap.T), grad_p @ head, grad_p.T @ feature


def separation_case(name, towers):
    """towers: list of dicts with z, head and optionally tokens and mask (the mask is not differentiated)."""

    def loss_of(*arrays):
        total = 0.0
        for k, tower in enumerate(towers):
            z, head = arrays[3 * k], arrays[3 * k + 1]
            feature = pooled(arrays[3 * k + 2], tower["mask"])[0] if "tokens" in tower else z
            total += separation_term(z, feature, head)
        return total

    inputs, analytic, written = [], [], []
    for tower in towers:
        z, head = tower["z"], tower["head"]
        if "tokens" in tower:
            feature, count = pooled(tower["tokens"], tower["mask"])
            grad_z, grad_feature, grad_head = separation_term_gradients(z, feature, head)
            grad_tokens = tower["mask"][:, :, None] * grad_feature[:, None, :] / count[:, :, None]
            inputs += [z, head, tower["tokens"]]
            analytic += [grad_z, grad_head, grad_tokens]
        else:
            grad_z, grad_feature, grad_head = separation_term_gradients(z, z, head)
            grad_z = grad_z + grad_feature
            grad_tokens = None
            inputs += [z, head, np.zeros((1,))]
            analytic += [grad_z, grad_head, None]
        term = separation_term(z, pooled(tower["tokens"], tower["mask"])[0] if "tokens" in tower else z, head)
        written.append({"z": z.tolist(), "head": head.tolist(),
                        "tokens": tower["tokens"].tolist() if "tokens" in tower else None,
                        "mask": tower["mask"].tolist() if "tokens" in tower else None,
                        "overlap": float(term), "grad_z": grad_z.tolist(), "grad_head": grad_head.tolist(),
                        "grad_tokens": grad_tokens.tolist() if grad_tokens is not None else None})
    check(name, loss_of, inputs, analytic)
    return {"name": name, "towers": written, "loss": float(loss_of(*inputs)) + 0.0}


def main():
    rng = np.random.default_rng(20230310)  # the arXiv date of the paper

    def normal(*shape, scale=1.0):
        return float32_rounded(scale * rng.normal(size=shape))

    def paired(batch, dim, noise):
        a = rng.normal(size=(batch, dim))
        return float32_rounded(a), float32_rounded(a + noise * rng.normal(size=(batch, dim)))

    geometric = []
    geometric.append(geometric_case("b4_d3", *paired(4, 3, 0.5)))
    geometric.append(geometric_case("b8_d16_weighted", *paired(8, 16, 0.7), intra_weight=0.5, inter_weight=2.0))
    geometric.append(geometric_case("batch_of_one", *paired(1, 4, 0.5)))
    a, b = paired(5, 6, 0.5)
    a[1], b[1] = a[0], b[0]
    geometric.append(geometric_case("two_identical_rows", a, b))
    a, b = paired(6, 8, 1.0)
    geometric.append(geometric_case("magnitude_1e4", float32_rounded(a * 1e4), float32_rounded(b * 1e4)))

    bridge = []

    def triple(batch, dim, noise):
        x = rng.normal(size=(batch, dim))
        y = x + noise * rng.normal(size=(batch, dim))
        m = (x + y) / 2 + noise * rng.normal(size=(batch, dim))
        return float32_rounded(x), float32_rounded(y), float32_rounded(m)

    def times(batch, low=0.05, high=0.95):
        return [float(np.float32(t)) for t in rng.uniform(low, high, size=batch)]

    bridge.append(bridge_case("b4_d3", *triple(4, 3, 0.5), times(4)))
    bridge.append(bridge_case("b8_d16", *triple(8, 16, 0.5), times(8)))
    bridge.append(bridge_case("batch_of_one", *triple(1, 4, 0.5), times(1)))
    x, y, m = triple(5, 6, 0.5)
    x[1], y[1], m[1] = x[0], y[0], m[0]
    bridge.append(bridge_case("two_identical_rows", x, y, m, times(5)))
    # t near the ends: variances of 1e-4 give scores of order 1e4, stable only through log-sum-exp.
    bridge.append(bridge_case("t_near_the_ends", *triple(6, 8, 1.0), [1e-4, 0.9999, 0.5, 0.001, 0.999, 0.3]))
    x, y, m = triple(6, 8, 1.0)
    bridge.append(bridge_case("magnitude_1e4", float32_rounded(x * 1e4), float32_rounded(y * 1e4),
                              float32_rounded(m * 1e4), times(6)))

    separation = []
    separation.append(separation_case("one_tower_b4_d3", [{"z": normal(4, 3), "head": normal(3, 3, scale=0.5)}]))
    separation.append(separation_case("two_towers_b8_d6", [{"z": normal(8, 6), "head": normal(6, 6, scale=0.4)},
                                                           {"z": normal(8, 6), "head": normal(6, 6, scale=0.4)}]))
    separation.append(separation_case("batch_of_one", [{"z": normal(1, 4), "head": normal(4, 4, scale=0.5)}]))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], dtype=np.float64)
    separation.append(separation_case("tokens_with_padding", [
        {"z": normal(4, 5), "head": normal(5, 5, scale=0.4), "tokens": normal(4, 5, 5), "mask": mask},
        {"z": normal(4, 5), "head": normal(5, 5, scale=0.4)}]))
    z = normal(5, 4)
    z[1] = z[0]
    separation.append(separation_case("two_identical_rows", [{"z": z, "head": normal(4, 4, scale=0.5)}]))
    separation.append(separation_case("magnitude_1e4", [{"z": normal(6, 8, scale=1e4),
                                                         "head": normal(8, 8, scale=0.3)}]))

    for file, cases, what in (("geometric_consistency_reference.json", geometric, "geometric consistency"),
                              ("brownian_bridge_reference.json", bridge, "Brownian bridge"),
                              ("deep_feature_separation_reference.json", separation, "deep feature separation")):
        document = {"description": f"{what} reference values from plugins/modality-structure/src/test/python/"
                                   "make_reference.py (numpy, float64, hand-derived gradients checked against "
                                   "central finite differences)",
                    "cases": cases}
        RESOURCES.mkdir(parents=True, exist_ok=True)
        (RESOURCES / file).write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {len(cases)} cases to {RESOURCES / file}")


if __name__ == "__main__":
    main()
