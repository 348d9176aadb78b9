#!/usr/bin/env python3
"""Writes tempnet_reference.json: reference values of the TempNet loss for TempNetLossTest.

The loss is the robust (KL-constrained DRO) contrastive loss of "To Cool or not to Cool? Temperature
Network Meets Large Foundation Models via DRO" (Qiu et al., ICML 2024) with a per-sample temperature
predicted by a small network (TempNet) from each anchor's detached, L2-normalised embedding:

    u = a / ||a||, v = b / ||b||,  S = u v^T                       (rows L2-normalised)
    tau_a = TempNet_a(u), tau_b = TempNet_b(v)                     (inputs detached)
    L_dir = mean_i [ tau_i log( 1/(B-1) sum_{j != i} exp((S_ij - S_ii) / tau_i) ) + rho tau_i ]
    loss = L(S, tau_a) + L(S^T, tau_b)                             (image->text plus text->image)

and, with one record (no negatives), loss = 0. TempNet, as in the authors' TempGenerator:

    H = sigmoid(u W^T + c)                 W [D, D], c [D]
    Q = H (P / ||P||_row)^T                P [M, D] prototypes
    R = (softmax(Q / exp(l)) - 1/M) * sigmoid(Q)
    z = R w + o                            w [M], o scalar
    tau = (tau_max - tau_min) sigmoid(z) + tau_min

numpy only (no torch), so the reference is independent of the engine under test. Gradients with
respect to both towers' raw embeddings and every network weight are derived by hand below and checked
against central finite differences in float64 before anything is written. Inputs are rounded to
float32 first, so the Java test feeds the loss exactly the values the reference was computed from.

Run: python3 plugins/tempnet/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "tempnet_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
NET_KEYS = ("proj_weight", "proj_bias", "prototypes", "log_scale", "out_weight", "out_bias")


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def normalise(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------- TempNet


def net_forward(u, net, tau_min, tau_max):
    m = net["prototypes"].shape[0]
    hidden = sigmoid(u @ net["proj_weight"].T + net["proj_bias"])
    proto_norm = np.linalg.norm(net["prototypes"], axis=1, keepdims=True)
    protos = net["prototypes"] / proto_norm
    q = hidden @ protos.T
    kappa = math.exp(net["log_scale"])
    y = q / kappa
    weights = softmax(y, axis=1)
    sims = sigmoid(q)
    r = (weights - 1.0 / m) * sims
    z = r @ net["out_weight"] + net["out_bias"]
    sz = sigmoid(z)
    tau = (tau_max - tau_min) * sz + tau_min
    cache = dict(u=u, hidden=hidden, proto_norm=proto_norm, protos=protos, q=q, kappa=kappa, y=y,
                 weights=weights, sims=sims, r=r, sz=sz, m=m)
    return tau, cache


def net_backward(grad_tau, cache, net, tau_min, tau_max):
    """Gradients of a scalar with d/d tau = grad_tau with respect to every network weight."""
    c = cache
    grad_z = grad_tau * (tau_max - tau_min) * c["sz"] * (1 - c["sz"])
    grads = {"out_weight": c["r"].T @ grad_z, "out_bias": float(grad_z.sum())}
    grad_r = grad_z[:, None] * net["out_weight"][None, :]
    grad_weights = grad_r * c["sims"]
    grad_sims = grad_r * (c["weights"] - 1.0 / c["m"])
    grad_q = grad_sims * c["sims"] * (1 - c["sims"])
    # softmax over y = q / kappa
    grad_y = c["weights"] * (grad_weights - np.sum(grad_weights * c["weights"], axis=1, keepdims=True))
    grad_q = grad_q + grad_y / c["kappa"]
    grads["log_scale"] = float(-np.sum(grad_y * c["y"]))  # dy / dl = -y
    grad_hidden = grad_q @ c["protos"]
    grad_protos = grad_q.T @ c["hidden"]
    protos = c["protos"]
    grads["prototypes"] = (grad_protos - protos * np.sum(protos * grad_protos, axis=1, keepdims=True)) / c["proto_norm"]
    grad_pre = grad_hidden * c["hidden"] * (1 - c["hidden"])
    grads["proj_weight"] = grad_pre.T @ c["u"]
    grads["proj_bias"] = grad_pre.sum(axis=0)
    return grads


# ---------------------------------------------------------------- the robust loss


def robust_direction(s, tau, rho):
    """mean_i tau_i (LSE_{j != i}((S_ij - S_ii) / tau_i) - log(B - 1)) + rho tau_i, with its gradients."""
    batch = s.shape[0]
    d = s - np.diag(s)[:, None]
    x = d / tau[:, None]
    off = ~np.eye(batch, dtype=bool)
    x_off = np.where(off, x, -np.inf)
    peak = x_off.max(axis=1, keepdims=True)
    expo = np.where(off, np.exp(x_off - peak), 0.0)
    total = expo.sum(axis=1, keepdims=True)
    lse = (np.log(total) + peak)[:, 0]
    pi = expo / total  # softmax over the negatives; 0 on the diagonal
    per_anchor = tau * (lse - math.log(batch - 1) + rho)
    value = per_anchor.mean()
    # dL_i / dD_ij = pi_ij, so dL_i / dS_ij = pi_ij (j != i) and dL_i / dS_ii = -1.
    grad_s = (pi - np.eye(batch)) / batch
    # dL_i / dtau_i = LSE_i - log(B - 1) + rho - sum_j pi_ij X_ij
    grad_tau = (lse - math.log(batch - 1) + rho - np.sum(np.where(off, pi * x, 0.0), axis=1)) / batch
    return value, grad_s, grad_tau


def tempnet_loss(a, b, net_a, net_b, rho, tau_min, tau_max, net_inputs=None):
    return evaluate(a, b, net_a, net_b, rho, tau_min, tau_max, net_inputs)[0]


def evaluate(a, b, net_a, net_b, rho, tau_min, tau_max, net_inputs=None):
    """The loss, the temperatures and the hand-derived gradients (a, b, net_a, net_b).

    net_inputs, when given, are what the networks read instead of u and v: the finite differences
    with respect to a and b hold them fixed, as the detached inputs of the loss under test are."""
    batch = a.shape[0]
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    net_u, net_v = (u, v) if net_inputs is None else net_inputs
    tau_a, cache_a = net_forward(net_u, net_a, tau_min, tau_max)
    tau_b, cache_b = net_forward(net_v, net_b, tau_min, tau_max)
    if batch == 1:
        zero_net = lambda net: {k: np.zeros_like(np.asarray(net[k], dtype=np.float64)) for k in NET_KEYS}
        return 0.0, tau_a, tau_b, np.zeros_like(a), np.zeros_like(b), zero_net(net_a), zero_net(net_b)
    s = u @ v.T
    value_a, grad_s_a, grad_tau_a = robust_direction(s, tau_a, rho)
    value_b, grad_s_b, grad_tau_b = robust_direction(s.T, tau_b, rho)
    grad_s = grad_s_a + grad_s_b.T
    grad_u = grad_s @ v
    grad_v = grad_s.T @ u
    # The network inputs are detached: gradients reach a and b only through S.
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    grads_a = net_backward(grad_tau_a, cache_a, net_a, tau_min, tau_max)
    grads_b = net_backward(grad_tau_b, cache_b, net_b, tau_min, tau_max)
    return value_a + value_b, tau_a, tau_b, grad_a, grad_b, grads_a, grads_b


# ---------------------------------------------------------------- checks


def finite_differences(a, b, net_a, net_b, rho, tau_min, tau_max):
    h = FINITE_DIFFERENCE_STEP
    detached = (normalise(a), normalise(b))  # the networks' inputs carry no gradient
    f = lambda: tempnet_loss(a, b, net_a, net_b, rho, tau_min, tau_max, detached)
    out = {}
    for name, array in (("a", a), ("b", b)):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = f()
            array[index] = saved - h
            minus = f()
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        out[name] = grad
    for tag, net in (("net_a", net_a), ("net_b", net_b)):
        for key in NET_KEYS:
            value = net[key]
            if np.ndim(value) == 0:
                net[key] = value + h
                plus = f()
                net[key] = value - h
                minus = f()
                net[key] = value
                out[f"{tag}.{key}"] = (plus - minus) / (2 * h)
            else:
                grad = np.zeros_like(value)
                for index in np.ndindex(value.shape):
                    saved = value[index]
                    value[index] = saved + h
                    plus = f()
                    value[index] = saved - h
                    minus = f()
                    value[index] = saved
                    grad[index] = (plus - minus) / (2 * h)
                out[f"{tag}.{key}"] = grad
    return out


def check_gradients(name, a, b, net_a, net_b, rho, tau_min, tau_max):
    _, _, _, grad_a, grad_b, grads_a, grads_b = evaluate(a, b, net_a, net_b, rho, tau_min, tau_max)
    analytic = {"a": grad_a, "b": grad_b}
    analytic.update({f"net_a.{k}": v for k, v in grads_a.items()})
    analytic.update({f"net_b.{k}": v for k, v in grads_b.items()})
    numeric = finite_differences(a.copy(), b.copy(), copy_net(net_a), copy_net(net_b), rho, tau_min, tau_max)
    worst = 0.0
    for what, x in analytic.items():
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(numeric[what], dtype=np.float64)
        error = float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        worst = max(worst, error)
    print(f"  {name}: every gradient matches finite differences to {worst:.2g}")


# ---------------------------------------------------------------- cases


def float32_rounded(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def f32(value):
    return float(np.float32(value))


def copy_net(net):
    return {k: (np.array(v, dtype=np.float64) if np.ndim(v) else float(v)) for k, v in net.items()}


def paired(rng, batch, dim, noise):
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def random_net(rng, dim, prototypes, log_scale, out_weight="ones", weight_gain=1.0):
    bound = 1.0 / math.sqrt(dim)  # torch.nn.Linear's default initialisation range
    net = {
        "proj_weight": float32_rounded(rng.uniform(-bound, bound, size=(dim, dim)) * weight_gain),
        "proj_bias": float32_rounded(rng.uniform(-bound, bound, size=dim) * weight_gain),
        "prototypes": float32_rounded(rng.normal(size=(prototypes, dim))),
        "log_scale": f32(log_scale),
        "out_weight": float32_rounded(np.ones(prototypes) if out_weight == "ones"
                                      else rng.normal(scale=3.0, size=prototypes)),
        "out_bias": f32(0.0 if out_weight == "ones" else rng.normal()),
    }
    return net


def as_json_net(net):
    return {k: (np.asarray(v).tolist() if np.ndim(v) else float(v)) for k, v in net.items()}


def case(name, a, b, net_a, net_b, rho, tau_min, tau_max):
    check_gradients(name, a, b, net_a, net_b, rho, tau_min, tau_max)
    value, tau_a, tau_b, grad_a, grad_b, grads_a, grads_b = evaluate(a, b, net_a, net_b, rho, tau_min, tau_max)
    return {
        "name": name,
        "rho": rho,
        "tau_min": tau_min,
        "tau_max": tau_max,
        "a": a.tolist(),
        "b": b.tolist(),
        "net_a": as_json_net(net_a),
        "net_b": as_json_net(net_b),
        "loss": float(value) + 0.0,
        "tau_a": tau_a.tolist(),
        "tau_b": tau_b.tolist(),
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_net_a": as_json_net(grads_a),
        "grad_net_b": as_json_net(grads_b),
    }


def main():
    rng = np.random.default_rng(20240406)  # the arXiv date of the TempNet paper
    cases = []
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, random_net(rng, 4, 3, math.log(0.01)),
                      random_net(rng, 4, 3, math.log(0.01)), 7.0, 0.005, 0.05))
    a, b = paired(rng, 2, 3, 0.5)
    cases.append(case("batch_of_two", a, b, random_net(rng, 3, 2, math.log(0.3), "random"),
                      random_net(rng, 3, 2, math.log(0.3), "random"), 0.5, 0.01, 0.5))
    # The authors' defaults: rho 7, tau in [0.005, 0.05], prototypes 256 (fewer here), log-scale log(0.01),
    # output weights one and bias zero.
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3_authors_init", a, b, random_net(rng, 3, 3, math.log(0.01)),
                      random_net(rng, 3, 3, math.log(0.01)), 7.0, 0.005, 0.05))
    a, b = paired(rng, 6, 5, 0.7)
    cases.append(case("b6_d5_random_weights", a, b, random_net(rng, 5, 4, math.log(0.2), "random", 3.0),
                      random_net(rng, 5, 4, math.log(0.05), "random", 3.0), 1.5, 0.02, 0.5))
    a, b = paired(rng, 8, 6, 1.0)
    cases.append(case("b8_d6_rho_0", a, b, random_net(rng, 6, 5, math.log(0.5), "random", 2.0),
                      random_net(rng, 6, 5, math.log(0.5), "random", 2.0), 0.0, 0.05, 1.0))
    a, b = paired(rng, 5, 4, 0.5)
    a[2] = a[1]
    b[2] = b[1]
    cases.append(case("two_identical_rows", a, b, random_net(rng, 4, 3, math.log(0.1), "random", 2.0),
                      random_net(rng, 4, 3, math.log(0.1), "random", 2.0), 2.0, 0.01, 0.2))
    # Temperatures between 0.001 and 0.002: (S_ij - S_ii) / tau reaches about 2000, where exp overflows
    # float32 unless the largest term is taken out first.
    a, b = paired(rng, 6, 4, 1.0)
    cases.append(case("tiny_temperatures", a, b, random_net(rng, 4, 3, math.log(0.1), "random", 2.0),
                      random_net(rng, 4, 3, math.log(0.1), "random", 2.0), 3.0, 0.001, 0.002))
    document = {
        "description": "TempNet loss reference values from plugins/tempnet/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
