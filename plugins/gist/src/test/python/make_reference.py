#!/usr/bin/env python3
"""Writes gist_reference.json: reference values of the GIST loss for GistLossTest.

The loss is the symmetric InfoNCE of two towers with the in-batch negatives selected by a guide, after
"GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding Fine-tuning"
(Solatorio, 2024): a negative that the guide rates more similar to the anchor than the anchor's own
positive (less a margin) is removed from the softmax's denominator.

    u = a / ||a||, v = b / ||b||,  L = u v^T / temperature
    G = g1 g2^T  (two guide towers)  or  g g^T  (one),  rows of g L2-normalised, no gradient
    first->second:  negative j of anchor i masked when  G[i, j] > G[i, i] - margin   (j != i)
    second->first:  negative j of anchor i masked when  G[j, i] > G[i, i] - margin   (j != i)
    loss = (mean_i CE(L[i, unmasked], i) + mean_i CE(L^T[i, unmasked], i)) / 2

numpy only (no torch), so the reference is independent of the engine under test. Gradients are derived
by hand below and checked against central finite differences in float64 before anything is written.
Inputs are rounded to float32 first, so the Java test feeds the loss exactly these values; each case
keeps every guide comparison at least 1e-4 away from its threshold, so float32 and float64 mask alike.

Run: python3 plugins/gist/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "gist_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
TIE_DISTANCE = 1e-4


def normalise(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def guide_similarities(guides):
    if len(guides) == 1:
        g = normalise(guides[0])
        return g @ g.T
    return normalise(guides[0]) @ normalise(guides[1]).T


def masks(guides, margin):
    """The masked negatives of each direction, [B, B] booleans, and the closest any comparison came to its threshold."""
    g = guide_similarities(guides)
    batch = g.shape[0]
    off = ~np.eye(batch, dtype=bool)
    threshold = np.diag(g)[:, None] - margin
    first = off & (g > threshold)
    second = off & (g.T > threshold)
    gaps = np.concatenate([np.abs(g - threshold)[off], np.abs(g.T - threshold)[off]])
    return first, second, (gaps.min() if gaps.size else np.inf)


def masked_log_softmax_diagonal(logits, mask):
    """log softmax(logits[i, ~mask[i]])[i] per row, and the softmax (0 where masked)."""
    x = np.where(mask, -np.inf, logits)
    peak = x.max(axis=1, keepdims=True)
    e = np.exp(x - peak)
    total = e.sum(axis=1, keepdims=True)
    log_probabilities = x - peak - np.log(total)
    return np.diag(log_probabilities), e / total


def gist_loss(a, b, guides, margin, temperature):
    return evaluate(a, b, guides, margin, temperature)[0]


def evaluate(a, b, guides, margin, temperature):
    batch = a.shape[0]
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    logits = u @ v.T / temperature
    first, second, _ = masks(guides, margin)
    rows, p_rows = masked_log_softmax_diagonal(logits, first)
    columns, p_columns = masked_log_softmax_diagonal(logits.T, second)
    value = (-rows.mean() - columns.mean()) / 2
    identity = np.eye(batch)
    # d/dlogits of -mean_i log softmax_i: (P - I) / B per direction; the second direction is on L^T.
    grad_logits = ((p_rows - identity) + (p_columns - identity).T) / (2 * batch)
    grad_s = grad_logits / temperature
    grad_u = grad_s @ v
    grad_v = grad_s.T @ u
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    masked_fraction = 0.0 if batch == 1 else (first.sum() + second.sum()) / (2 * batch * (batch - 1))
    return value, grad_a, grad_b, float(masked_fraction), first, second


def finite_differences(a, b, guides, margin, temperature):
    h = FINITE_DIFFERENCE_STEP
    out = []
    for array in (a, b):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = gist_loss(a, b, guides, margin, temperature)
            array[index] = saved - h
            minus = gist_loss(a, b, guides, margin, temperature)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        out.append(grad)
    return out


def check_gradients(name, a, b, guides, margin, temperature):
    _, grad_a, grad_b, _, _, _ = evaluate(a, b, guides, margin, temperature)
    numeric = finite_differences(a.copy(), b.copy(), guides, margin, temperature)
    worst = 0.0
    for what, x, y in zip(("a", "b"), (grad_a, grad_b), numeric):
        error = float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        worst = max(worst, error)
    print(f"  {name}: gradients match finite differences to {worst:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def case(name, a, b, guides, margin, temperature, exact_ties=False):
    *_, gap = masks(guides, margin)
    if gap < TIE_DISTANCE and not exact_ties:
        raise AssertionError(f"{name}: a guide similarity is {gap:.2g} from its threshold; float32 may mask it "
                             "otherwise")
    check_gradients(name, a, b, guides, margin, temperature)
    value, grad_a, grad_b, fraction, first, second = evaluate(a, b, guides, margin, temperature)
    print(f"  {name}: loss {value:.6g}, masked fraction {fraction:.3g}")
    return {
        "name": name,
        "temperature": temperature,
        "margin": margin,
        "a": a.tolist(),
        "b": b.tolist(),
        "guides": [g.tolist() for g in guides],
        "loss": float(value) + 0.0,
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "masked_fraction": fraction,
        "mask_first": first.astype(int).tolist(),
        "mask_second": second.astype(int).tolist(),
    }


def paired(rng, batch, dim, noise):
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def main():
    rng = np.random.default_rng(20240226)  # the arXiv date of the GISTEmbed paper
    cases = []
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, [float32_rounded(rng.normal(size=(1, 3)))] * 2, 0.0, 0.01))
    # Two guide towers, one per side, as GISTEmbed's guide embeds queries and documents.
    a, b = paired(rng, 6, 4, 0.6)
    guide_a = float32_rounded(rng.normal(size=(6, 5)))
    guide_b = float32_rounded(guide_a + 0.9 * rng.normal(size=(6, 5)))
    cases.append(case("two_guides_margin_0", a, b, [guide_a, guide_b], 0.0, 0.05))
    # One guide reading the second tower's content (a caption): G is symmetric, its diagonal 1, and only
    # a margin can mask anything; captions that say the same thing differ by little.
    a, b = paired(rng, 8, 6, 1.5)
    topics = rng.normal(size=(3, 5))
    captions = float32_rounded(topics[[0, 0, 1, 1, 1, 2, 0, 2]] + 0.25 * rng.normal(size=(8, 5)))
    cases.append(case("one_guide_margin_0.1", a, b, [captions], 0.1, 0.05))
    # Two records with the same content: identical rows everywhere. The guide rates each the other's
    # equal (G ties with the diagonal), so a margin masks it as a false negative in both directions.
    a, b = paired(rng, 5, 4, 0.5)
    guide = float32_rounded(rng.normal(size=(5, 6)))
    a[3], b[3], guide[3] = a[1], b[1], guide[1]
    cases.append(case("duplicate_masked_by_margin", a, b, [guide], 0.05, 0.05))
    # Orthogonal guide rows mask nothing: the loss is CLIP's at this temperature.
    a, b = paired(rng, 4, 3, 1.5)
    cases.append(case("guide_masks_nothing", a, b, [float32_rounded(np.eye(4) * 2.0)], 0.5, 0.07))
    # A guide that rates every pair alike masks every negative: each anchor has only its positive.
    a, b = paired(rng, 4, 3, 0.5)
    same = float32_rounded(np.tile(rng.normal(size=(1, 3)), (4, 1)))
    cases.append(case("everything_masked", a, b, [same], 0.01, 0.05, exact_ties=True))
    # Temperature 0.001: logits up to 1000, where a softmax without the max shift overflows float32.
    a, b = paired(rng, 6, 5, 1.0)
    guide_a = float32_rounded(rng.normal(size=(6, 4)))
    guide_b = float32_rounded(guide_a + 1.2 * rng.normal(size=(6, 4)))
    cases.append(case("temperature_0.001", a, b, [guide_a, guide_b], 0.0, 0.001))
    document = {
        "description": "GIST loss reference values from plugins/gist/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
