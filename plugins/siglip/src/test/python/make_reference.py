#!/usr/bin/env python3
"""Writes siglip_reference.json: reference values of the SigLIP loss for SigLipLossTest.

The loss is the pairwise sigmoid loss of "Sigmoid Loss for Language Image Pre-Training" (Zhai et
al., ICCV 2023), Section 3.2 and Algorithm 1:

    u = a / ||a||, v = b / ||b||            (rows L2-normalised)
    logits = exp(t') * u v^T + b_bias         (t' = logit_scale, the learnable log-scale)
    z_ij = +1 if i == j else -1               (row i of each tower is the other's only positive)
    loss = -(1/B) * sum_ij log sigmoid(z_ij * logits_ij)

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64
before anything is written. Inputs are rounded to float32 first, so that the Java test feeds the
loss exactly the values the reference was computed from.

Run: python3 plugins/siglip/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "siglip_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def softplus(x):
    """log(1 + e^x) without overflow: logaddexp(0, x)."""
    return np.logaddexp(0.0, x)


def sigmoid(x):
    """1 / (1 + e^-x) without overflow: exp(-softplus(-x))."""
    return np.exp(-softplus(-x))


def signs(batch):
    return 2.0 * np.eye(batch) - 1.0


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def siglip_loss(a, b, logit_scale, bias):
    u, v = normalised(a), normalised(b)
    logits = math.exp(logit_scale) * u @ v.T + bias
    # -log sigmoid(x) = softplus(-x)
    return float(np.sum(softplus(-signs(a.shape[0]) * logits)) / a.shape[0])


def siglip_gradients(a, b, logit_scale, bias):
    """The hand-derived gradients of siglip_loss with respect to a, b, logit_scale and bias.

    With S the logits and z the signs, d softplus(-z S) / dS = -z sigmoid(-z S), so
        G = dL/dS = -z * sigmoid(-z * S) / B
    S = s u v^T + bias with s = exp(t'), so
        dL/du = s G v,  dL/dv = s G^T u,  dL/dt' = sum(G * (S - bias)),  dL/dbias = sum(G)
    and through the normalisation u = a / ||a|| (per row):
        dL/da = (dL/du - u <u, dL/du>) / ||a||
    """
    batch = a.shape[0]
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u, v = a / norm_a, b / norm_b
    scale = math.exp(logit_scale)
    similarities = scale * u @ v.T
    z = signs(batch)
    grad_logits = -z * sigmoid(-z * (similarities + bias)) / batch
    grad_u = scale * grad_logits @ v
    grad_v = scale * grad_logits.T @ u
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    return grad_a, grad_b, float(np.sum(grad_logits * similarities)), float(np.sum(grad_logits))


def finite_difference_gradients(a, b, logit_scale, bias):
    h = FINITE_DIFFERENCE_STEP
    grad_a = np.zeros_like(a)
    grad_b = np.zeros_like(b)
    for array, grad in ((a, grad_a), (b, grad_b)):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = siglip_loss(a, b, logit_scale, bias)
            array[index] = saved - h
            minus = siglip_loss(a, b, logit_scale, bias)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    grad_scale = (siglip_loss(a, b, logit_scale + h, bias) - siglip_loss(a, b, logit_scale - h, bias)) / (2 * h)
    grad_bias = (siglip_loss(a, b, logit_scale, bias + h) - siglip_loss(a, b, logit_scale, bias - h)) / (2 * h)
    return grad_a, grad_b, grad_scale, grad_bias


def check_gradients(name, a, b, logit_scale, bias):
    analytic = siglip_gradients(a, b, logit_scale, bias)
    numeric = finite_difference_gradients(a, b, logit_scale, bias)
    for what, x, y in zip(("a", "b", "logit_scale", "bias"), analytic, numeric):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def paired(rng, batch, dim, noise):
    """Embeddings of the two towers, row i of b near row i of a, as real pairs are."""
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def case(name, a, b, temperature, bias):
    """temperature is 1 / exp(t'): logit_scale is float32(log(1 / temperature)), as the Java loss makes it."""
    logit_scale = float(np.float32(math.log(1.0 / temperature)))
    bias = float(np.float32(bias))
    check_gradients(name, a.copy(), b.copy(), logit_scale, bias)
    grad_a, grad_b, grad_logit_scale, grad_bias = siglip_gradients(a, b, logit_scale, bias)
    return {
        "name": name,
        "temperature": temperature,
        "logit_scale": logit_scale,
        "bias": bias,
        "a": a.tolist(),
        "b": b.tolist(),
        "loss": siglip_loss(a, b, logit_scale, bias),
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
        "grad_logit_scale": grad_logit_scale,
        "grad_bias": grad_bias,
    }


def main():
    rng = np.random.default_rng(20230327)  # the arXiv date of the SigLIP paper
    cases = []
    # The paper's initialisation: t' = log 10 (temperature 0.1), b = -10.
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, 0.1, -10.0))
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3", a, b, 0.1, -10.0))
    a, b = paired(rng, 8, 16, 0.5)
    cases.append(case("b8_d16", a, b, 0.1, -10.0))
    a, b = paired(rng, 5, 6, 0.5)
    a[1] = a[0]
    b[1] = b[0]
    cases.append(case("two_identical_rows", a, b, 0.1, -10.0))
    # One batch at values a trained model reaches, and at a scale where logits reach 1e4: there
    # log(1 + exp(x)) overflows float32 unless it is taken in its stable softplus form.
    a, b = paired(rng, 6, 8, 1.0)
    cases.append(case("temperature_0.05_bias_-5", a, b, 0.05, -5.0))
    cases.append(case("temperature_1_bias_0", a, b, 1.0, 0.0))
    cases.append(case("temperature_1e-4_bias_-10", a, b, 1e-4, -10.0))
    cases.append(case("temperature_1e-4_bias_3", a, b, 1e-4, 3.0))
    document = {
        "description": "SigLIP loss reference values from plugins/siglip/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
