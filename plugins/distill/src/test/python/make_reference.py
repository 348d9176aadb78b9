#!/usr/bin/env python3
"""Writes distill_reference.json: reference values of the distillation loss for DistillLossTest.

MobileCLIP's objective ("MobileCLIP: Fast Image-Text Models through Multi-Modal Reinforced Training", Vasu et al.,
CVPR 2024, Eq. 1-2) for a student pair (a, b) and teacher pairs (x_k, y_k):

    S = e^t u v^T                      u, v the rows of a, b L2-normalised; t the learned log scale
    T_k = x^_k y^_k^T / tau            the teachers' logits (constants)
    L_clip = (CE_row(S, diag) + CE_col(S, diag)) / 2
    L_kl = 1/K sum_k (KL(softmax_row T_k || softmax_row S) + KL(softmax_col T_k || softmax_col S)) / (2B)
    L = (1 - lambda) L_clip + lambda L_kl

numpy only, gradients derived by hand and checked against central finite differences in float64 before
anything is written; inputs rounded to float32 first.

Run: python3 plugins/distill/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "distill_reference.json"
STEP = 1e-6
TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def loss(a, b, t, teachers, tau, lam):
    n = a.shape[0]
    s = np.exp(t) * unit(a) @ unit(b).T
    clip = -(np.trace(log_softmax(s, 1)) + np.trace(log_softmax(s, 0))) / (2 * n)
    kl = 0.0
    for x, y in teachers:
        teacher = unit(x) @ unit(y).T / tau
        p_r, p_c = np.exp(log_softmax(teacher, 1)), np.exp(log_softmax(teacher, 0))
        kl += (np.sum(p_r * (log_softmax(teacher, 1) - log_softmax(s, 1)))
               + np.sum(p_c * (log_softmax(teacher, 0) - log_softmax(s, 0)))) / (2 * n)
    kl /= len(teachers)
    return (1 - lam) * clip + lam * kl, clip, kl


def gradients(a, b, t, teachers, tau, lam):
    """G = dL/dS = (1 - lambda) ((Q_r - I) + (Q_c - I)) / 2B + lambda / K sum_k ((Q_r - P_r^k) + (Q_c - P_c^k)) / 2B
    with Q the student's row / column softmax and P^k the teacher's; then, as for CLIP, S = e^t u v^T gives
    dL/du = e^t G v, dL/dv = e^t G^T u, dL/dt = sum(G * S), and dL/da = (dL/du - u <u, dL/du>) / |a|."""
    n = a.shape[0]
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    u, v = a / na, b / nb
    s = np.exp(t) * u @ v.T
    q_r, q_c = np.exp(log_softmax(s, 1)), np.exp(log_softmax(s, 0))
    g = (1 - lam) * ((q_r - np.eye(n)) + (q_c - np.eye(n))) / (2 * n)
    for x, y in teachers:
        teacher = unit(x) @ unit(y).T / tau
        p_r, p_c = np.exp(log_softmax(teacher, 1)), np.exp(log_softmax(teacher, 0))
        g += lam / len(teachers) * ((q_r - p_r) + (q_c - p_c)) / (2 * n)
    du, dv = np.exp(t) * g @ v, np.exp(t) * g.T @ u
    da = (du - u * np.sum(u * du, axis=1, keepdims=True)) / na
    db = (dv - v * np.sum(v * dv, axis=1, keepdims=True)) / nb
    return da, db, float(np.sum(g * s))


def numeric(f, x):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += STEP
        down[index] -= STEP
        grad[index] = (f(up) - f(down)) / (2 * STEP)
    return grad


def case(name, rng, rows, dim, teacher_dims, tau, lam, temperature, same_tower=False):
    f32 = lambda x: np.asarray(x, dtype=np.float32).astype(np.float64)
    a, b = f32(rng.normal(size=(rows, dim))), f32(rng.normal(size=(rows, dim)))
    teachers = []
    for d in teacher_dims:
        x = f32(rng.normal(size=(rows, d)))
        teachers.append((x, x if same_tower else f32(rng.normal(size=(rows, d)))))
    t = float(np.float32(np.log(1 / temperature)))
    value, clip, kl = loss(a, b, t, teachers, tau, lam)
    da, db, dt = gradients(a, b, t, teachers, tau, lam)
    checks = {"a": (da, numeric(lambda z: loss(z, b, t, teachers, tau, lam)[0], a)),
              "b": (db, numeric(lambda z: loss(a, z, t, teachers, tau, lam)[0], b)),
              "t": (dt, (loss(a, b, t + STEP, teachers, tau, lam)[0] - loss(a, b, t - STEP, teachers, tau, lam)[0])
                    / (2 * STEP))}
    for key, (analytic, approx) in checks.items():
        error = np.max(np.abs(np.asarray(analytic) - np.asarray(approx)))
        assert error < TOLERANCE, f"{name}: d/d{key} differs from finite differences by {error}"
    return {"name": name, "a": a.tolist(), "b": b.tolist(),
            "teachers": [[x.tolist(), y.tolist()] for x, y in teachers], "same_tower": same_tower,
            "teacher_temperature": tau, "lambda": lam, "temperature": temperature, "logit_scale": t,
            "loss": value, "clip": clip, "kl": kl, "grad_a": da.tolist(), "grad_b": db.tolist(), "grad_logit_scale": dt}


def main():
    rng = np.random.default_rng(20240617)
    cases = [
        case("one teacher", rng, 5, 4, [6], 0.07, 0.5, 0.07),
        case("two teachers, mostly distillation", rng, 6, 3, [5, 8], 0.1, 0.9, 0.05),
        case("a text teacher's caption-caption similarities", rng, 4, 4, [7], 0.05, 0.3, 0.1, same_tower=True),
        case("no distillation", rng, 3, 4, [3], 0.07, 0.0, 0.07),
    ]
    OUTPUT.write_text(json.dumps({"description": __doc__.splitlines()[0], "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
