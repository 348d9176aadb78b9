#!/usr/bin/env python3
"""Writes geometry_reference.json: reference values of the geometry evaluator for GeometryEvaluatorTest.

For paired embeddings x (first tower) and y (second), each row L2-normalised as
torch.nn.functional.normalize does (x / max(||x||, 1e-12), so a zero row stays zero):

    alignment    = mean_i ||x_i - y_i||^2                                  Wang and Isola (ICML 2020), Eq. 4, alpha = 2
    uniformity_x = log mean_{i != j} exp(-2 ||x_i - x_j||^2)                Wang and Isola, Eq. 5, t = 2 (same for y)
    modality_gap = ||mean_i x_i - mean_i y_i||                              Liang et al. (NeurIPS 2022), Section 4.1

The distances are computed directly from the differences (not from dot products, as the Java code
does), in float64, with numpy only. Inputs are rounded to float32 first, so that the Java test feeds
the evaluator exactly the values the reference was computed from.

Run: python3 plugins/evaluators/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "geometry_reference.json"


def normalise(v):
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def uniformity(z):
    n = z.shape[0]
    squared = ((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2)
    off_diagonal = ~np.eye(n, dtype=bool)
    return float(np.log(np.exp(-2.0 * squared[off_diagonal]).mean()))


def case(name, x, y):
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    y = np.asarray(y, dtype=np.float32).astype(np.float64)
    xn, yn = normalise(x), normalise(y)
    return {
        "name": name,
        "x": x.tolist(),
        "y": y.tolist(),
        "alignment": float(((xn - yn) ** 2).sum(axis=1).mean()),
        "uniformity_x": uniformity(xn),
        "uniformity_y": uniformity(yn),
        "modality_gap": float(np.linalg.norm(xn.mean(axis=0) - yn.mean(axis=0))),
    }


def main():
    rng = np.random.default_rng(20220901)
    base = rng.normal(size=(7, 5))
    cases = [
        # Paired views of random points, the second tower shifted along one axis: a gap to measure.
        case("shifted pairs", base + 0.3 * rng.normal(size=(7, 5)),
             base + 0.3 * rng.normal(size=(7, 5)) + np.array([2.0, 0, 0, 0, 0])),
        # Unrelated towers of different scale (normalisation must remove the scale).
        case("unrelated", rng.normal(size=(6, 3)) * 10, rng.normal(size=(6, 3)) * 0.01),
        # A zero row (stays zero after normalisation) and duplicate rows.
        case("zero and duplicate rows", [[0, 0, 0, 0], [1, 2, 3, 4], [1, 2, 3, 4], [-1, 0.5, 0, 2]],
             [[1, 0, 0, 0], [0, 1, 0, 0], [2, 4, 6, 8], [0, 0, 0, 0]]),
    ]
    description = "alignment, uniformity and modality gap of normalised paired embeddings; see make_reference.py"
    OUTPUT.write_text('{"description": ' + json.dumps(description) + ', "cases": [\n'
                      + ",\n".join(json.dumps(c) for c in cases) + "\n]}\n")
    print("wrote", OUTPUT)


if __name__ == "__main__":
    main()
