#!/usr/bin/env python3
"""Writes three_towers_reference.json: reference values of the Three Towers loss for ThreeTowersLossTest.

The loss is the 3T objective of "Three Towers: Flexible Contrastive Learning with Pretrained Image Models"
(Kossen et al., NeurIPS 2023), Section 3, with main towers f, g and a frozen third tower h seen through
learned linear heads:

    L = Lc(x, y; t_fg) + (Lc(x W_f, z W_h; t_fh) + Lc(y W_g, z W_h; t_gh)) / 2
    Lc(a, b; t) = (CE(e^t a^ b^T, diag) + CE(e^t b^ a^T, diag)) / 2,   a^, b^ rows L2-normalised

with x, y, z the embeddings of f, g, h (z is a fixed target: no gradient flows into it).

numpy only (no torch), so the reference is independent of the engine under test. Gradients are derived
by hand and checked here against central finite differences in float64 before anything is written; inputs
and parameters are rounded to float32 first.

Run: python3 plugins/three-towers/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "three_towers_reference.json"
STEP = 1e-6
TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def contrastive(a, b, t):
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = np.exp(t) * u @ v.T
    return -(np.mean(np.diag(log_softmax(logits, 1))) + np.mean(np.diag(log_softmax(logits, 0)))) / 2


def contrastive_gradients(a, b, t):
    """dLc/da, dLc/db, dLc/dt: with G = dL/dS = ((P - I) + (Q - I)) / 2B for S = e^t u v^T (P, Q the row and
    column softmaxes), dL/du = e^t G v, dL/dv = e^t G^T u, dL/dt = sum(G * S), and through u = a / |a|:
    dL/da = (dL/du - u <u, dL/du>) / |a|."""
    n = a.shape[0]
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    u, v = a / na, b / nb
    s = np.exp(t)
    logits = s * u @ v.T
    g = ((np.exp(log_softmax(logits, 1)) - np.eye(n)) + (np.exp(log_softmax(logits, 0)) - np.eye(n))) / (2 * n)
    du, dv = s * g @ v, s * g.T @ u
    da = (du - u * np.sum(u * du, axis=1, keepdims=True)) / na
    db = (dv - v * np.sum(v * dv, axis=1, keepdims=True)) / nb
    return da, db, float(np.sum(g * logits))


def loss(p):
    return (contrastive(p["x"], p["y"], p["t_fg"])
            + (contrastive(p["x"] @ p["w_f"], p["z"] @ p["w_h"], p["t_fh"])
               + contrastive(p["y"] @ p["w_g"], p["z"] @ p["w_h"], p["t_gh"])) / 2)


def gradients(p):
    dx, dy, dt_fg = contrastive_gradients(p["x"], p["y"], p["t_fg"])
    da, dc1, dt_fh = contrastive_gradients(p["x"] @ p["w_f"], p["z"] @ p["w_h"], p["t_fh"])
    db, dc2, dt_gh = contrastive_gradients(p["y"] @ p["w_g"], p["z"] @ p["w_h"], p["t_gh"])
    da, db, dc1, dc2 = da / 2, db / 2, dc1 / 2, dc2 / 2
    return {
        "x": dx + da @ p["w_f"].T,
        "y": dy + db @ p["w_g"].T,
        "w_f": p["x"].T @ da,
        "w_g": p["y"].T @ db,
        "w_h": p["z"].T @ (dc1 + dc2),
        "t_fg": dt_fg,
        "t_fh": dt_fh / 2,
        "t_gh": dt_gh / 2,
    }


def finite_differences(p, key):
    value = np.asarray(p[key], dtype=np.float64)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        for sign in (1, -1):
            shifted = dict(p)
            moved = value.copy()
            moved[index] += sign * STEP
            shifted[key] = moved if value.shape else float(moved)
            grad[index] += sign * loss(shifted) / (2 * STEP)
    return grad


def case(name, rng, rows, dims, width, temperatures):
    f32 = lambda a: np.asarray(a, dtype=np.float32).astype(np.float64)
    p = {
        "x": f32(rng.normal(size=(rows, dims[0]))),
        "y": f32(rng.normal(size=(rows, dims[1]))),
        "z": f32(rng.normal(size=(rows, dims[2]))),
        "w_f": f32(rng.normal(size=(dims[0], width)) / np.sqrt(dims[0])),
        "w_g": f32(rng.normal(size=(dims[1], width)) / np.sqrt(dims[1])),
        "w_h": f32(rng.normal(size=(dims[2], width)) / np.sqrt(dims[2])),
        "t_fg": float(np.float32(np.log(1 / temperatures[0]))),
        "t_fh": float(np.float32(np.log(1 / temperatures[1]))),
        "t_gh": float(np.float32(np.log(1 / temperatures[2]))),
    }
    grads = gradients(p)
    for key in grads:
        numeric = finite_differences(p, key)
        error = np.max(np.abs(numeric - grads[key]))
        assert error < TOLERANCE, f"{name}: d/d{key} differs from finite differences by {error}"
    out = {"name": name}
    out.update({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in p.items()})
    out["loss"] = loss(p)
    out.update({"grad_" + k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in grads.items()})
    return out


def main():
    rng = np.random.default_rng(20231110)
    cases = [
        case("small", rng, 4, (3, 3, 5), 3, (0.07, 0.07, 0.07)),
        case("wider third tower, own temperatures", rng, 6, (4, 4, 8), 5, (0.1, 0.05, 0.2)),
        case("one pair", rng, 1, (3, 3, 3), 2, (0.5, 0.5, 0.5)),
    ]
    OUTPUT.write_text(json.dumps({"description": __doc__.splitlines()[0], "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
