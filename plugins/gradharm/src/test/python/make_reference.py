#!/usr/bin/env python3
"""Writes gradharm_reference.json: reference combined gradients of the gradharm gradient policy for
GradHarmTest.

Cross-modality gradient harmonisation ("Scaling Multimodal Pre-Training via Cross-Modality Gradient
Harmonization", Wu et al., NeurIPS 2022) works on the gradients of several pairwise losses that share towers.
For two terms i, j and the parameters P_ij they cover (scope "shared": those both read; "all": those either
reads, the other's gradient zero there), with every parameter's gradient flattened and the parameters of P_ij
concatenated into one vector:

    cos_ij = g_i . g_j / (|g_i| |g_j|)                      over P_ij, before any projection
    realignment (PCGrad's projection, Yu et al. 2020), for each i, for j != i in order:
        if g_i' . g_j < 0:  g_i' <- g_i' - (g_i' . g_j / |g_j|^2) g_j      on P_ij only
    combined = sum_i g_i'
    curriculum: threshold(t) = start + (end - start) * min(1, t / (fraction * T));
        if min_ij cos_ij < threshold(t): combined <- drop_weight * combined

This script is an independent implementation: it concatenates each pair's parameters into one float64 vector
with numpy and splits the result back, where the Java code works parameter by parameter on NDArrays. Inputs are
rounded to float32 first, so that the Java test feeds exactly the values used here. It also checks, before
writing, that a realigned pair is no longer in conflict (g_i' . g_j >= 0 up to rounding) and that without a
conflict the combined gradient is the plain sum.

Run: /work/main/.modalign/bench/venv/bin/python plugins/gradharm/src/test/python/make_reference.py
     (numpy is all it needs)
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "gradharm_reference.json"


def f32(values):
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def covered(a, b, shared):
    return [p for p in range(len(a)) if ((a[p] is not None and b[p] is not None) if shared
                                          else (a[p] is not None or b[p] is not None))]


def vector(grads, over, sizes):
    return np.concatenate([grads[p] if grads[p] is not None else np.zeros(sizes[p]) for p in over]) if over \
        else np.zeros(0)


def harmonise(case):
    grads = [[None if g is None else f32(g) for g in term] for term in case["gradients"]]
    sizes = [int(np.prod(s)) if s else 1 for s in case["shapes"]]
    shared = case["scope"] == "shared"
    terms = len(grads)
    cosines = {}
    agreement = np.inf
    for i in range(terms):
        for j in range(i + 1, terms):
            over = covered(grads[i], grads[j], shared)
            if not over:
                continue
            a, b = vector(grads[i], over, sizes), vector(grads[j], over, sizes)
            norms = np.linalg.norm(a) * np.linalg.norm(b)
            c = float(a @ b / norms) if norms > 0 else 0.0
            cosines[case["terms"][i] + "~" + case["terms"][j]] = c
            agreement = min(agreement, c)
    realigned = []
    for i in range(terms):
        mine = list(grads[i])
        if case["realign"]:
            for j in range(terms):
                if j == i:
                    continue
                over = covered(mine, grads[j], shared)
                if not over:
                    continue
                a, b = vector(mine, over, sizes), vector(grads[j], over, sizes)
                if a @ b < 0 and b @ b > 0:
                    a = a - (a @ b) / (b @ b) * b
                    assert a @ b > -1e-9 * (b @ b), "the projection leaves no conflict with the term projected against"
                    offset = 0
                    for p in over:
                        mine[p] = a[offset:offset + sizes[p]]
                        offset += sizes[p]
        realigned.append(mine)
    combined = []
    for p in range(len(sizes)):
        parts = [realigned[i][p] for i in range(terms) if realigned[i][p] is not None]
        combined.append(None if not parts else np.sum(parts, axis=0))
    kept = True
    threshold = None
    if case["curriculum_start"] > -1 or case["curriculum_end"] > -1:
        ramp = case["curriculum_fraction"] * max(1, case["total_steps"])
        progress = 1.0 if ramp <= 0 else min(1.0, case["step"] / ramp)
        threshold = case["curriculum_start"] + (case["curriculum_end"] - case["curriculum_start"]) * progress
        kept = not (agreement < threshold) if np.isfinite(agreement) else True
        if not kept:
            combined = [None if c is None else c * case["drop_weight"] for c in combined]
    return cosines, combined, kept, threshold


def gradients(rng, reads, sizes, scale=1.0):
    return [[(rng.standard_normal(sizes[p]) * scale).tolist() if reads(k, p) else None for p in range(len(sizes))]
            for k in range(len(reads.terms))]


class Reads:
    def __init__(self, terms, owners, towers_of_term):
        self.terms = terms
        self.owners = owners
        self.towers_of_term = towers_of_term

    def __call__(self, k, p):
        return self.owners[p] in self.towers_of_term[k]


def base(name, terms, shapes, grads, **options):
    case = {"name": name, "terms": terms, "shapes": shapes, "gradients": grads, "realign": True, "scope": "shared",
            "curriculum_start": -1.0, "curriculum_end": -1.0, "curriculum_fraction": 0.5, "drop_weight": 0.0,
            "step": 0, "total_steps": 100}
    case.update(options)
    return case


def main():
    rng = np.random.default_rng(20221103)
    cases = []
    shapes = [[3, 4], [4], [2]]
    sizes = [12, 4, 2]

    # Two terms over the same parameters, in conflict: g_b is mostly -g_a plus noise.
    a = [rng.standard_normal(s) for s in sizes]
    b = [-0.8 * x + 0.5 * rng.standard_normal(x.shape) for x in a]
    cases.append(base("two terms in conflict", ["it", "at"], shapes, [[x.tolist() for x in a], [x.tolist() for x in b]]))
    # Two terms that agree: the combined gradient is their plain sum.
    b = [0.6 * x + 0.5 * rng.standard_normal(x.shape) for x in a]
    cases.append(base("two terms agree", ["it", "at"], shapes, [[x.tolist() for x in a], [x.tolist() for x in b]]))
    # The conflicting pair with realignment off: the plain sum, cosines still measured.
    cases.append(dict(cases[0], name="conflict, realign off", realign=False))

    # Three towers (image, audio, text) and three pairwise terms; each tower has a matrix and a bias, and the
    # last parameter is a loss's own temperature, read by term "ia" alone.
    owners = ["image", "image", "audio", "audio", "text", "text", "loss:ia"]
    shapes3 = [[4, 3], [4], [4, 3], [4], [4, 3], [4], []]
    sizes3 = [12, 4, 12, 4, 12, 4, 1]
    reads = Reads(["it", "at", "ia"], owners, [{"image", "text"}, {"audio", "text"}, {"image", "audio", "loss:ia"}])
    grads = gradients(rng, reads, sizes3)
    # Make "it" and "at" conflict on the shared text tower.
    for p in (4, 5):
        grads[1][p] = (-np.asarray(grads[0][p]) + 0.3 * rng.standard_normal(sizes3[p])).tolist()
    cases.append(base("three towers, shared parameters", reads.terms, shapes3, grads))
    cases.append(base("three towers, scope all", reads.terms, shapes3, grads, scope="all"))

    # The curriculum: at step 10 of 100 (threshold 0 -> -1 over half the run: -0.2) the conflicting step
    # (least cosine below it) is down-weighted; at step 60 (threshold -1) it is kept.
    cases.append(dict(cases[0], name="curriculum turns a conflict away", curriculum_start=0.0, curriculum_end=-1.0,
                      drop_weight=0.25, step=10, total_steps=100))
    cases.append(dict(cases[0], name="curriculum keeps it later", curriculum_start=0.0, curriculum_end=-1.0,
                      drop_weight=0.25, step=60, total_steps=100))
    cases.append(dict(cases[1], name="curriculum keeps an agreeing step", curriculum_start=0.0, curriculum_end=-1.0,
                      step=0, total_steps=100))

    out = []
    for case in cases:
        case["gradients"] = [[None if g is None else f32(g).tolist() for g in term] for term in case["gradients"]]
        cosines, combined, kept, threshold = harmonise(case)
        if not case["realign"] or all(c >= 0 for c in cosines.values()):
            plain = harmonise(dict(case, realign=False))[1]
            for x, y in zip(combined, plain):
                assert (x is None and y is None) or np.allclose(x, y, rtol=0, atol=0)
        case["expected_cosines"] = cosines
        case["expected_combined"] = [None if c is None else c.tolist() for c in combined]
        case["expected_kept"] = kept
        case["expected_threshold"] = threshold
        out.append(case)
    OUTPUT.write_text(json.dumps({"description": "gradharm: per-term gradients in, combined gradient out; see "
                                  "src/test/python/make_reference.py", "cases": out}, indent=1) + "\n")
    print("wrote", OUTPUT, len(out), "cases")


if __name__ == "__main__":
    main()
