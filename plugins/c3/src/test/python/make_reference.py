#!/usr/bin/env python3
"""Writes c3_reference.json: reference values of the c3 loss for C3LossTest.

The loss is InfoNCE on embeddings prepared by the collapse and corrupt steps of "Connect, Collapse,
Corrupt: Learning Cross-Modal Tasks with Uni-Modal Data" (Zhang, Sui and Yeung-Levy, ICLR 2024), in the
order of the authors' code (normalise, subtract the mean, add noise, normalise again):

    u = a / ||a||,  v = b / ||b||
    u' = u - m_u,   v' = v - m_v          m = the batch mean of u (a function of a), or a given constant
    u'' = u' + sigma n_u,  v'' = v' + sigma n_v        n: given standard normal draws
    w = u'' / ||u''||,  z = v'' / ||v''||
    loss = (CE(w z^T / tau, diag) + CE(z w^T / tau, diag)) / 2

numpy only (no torch). Gradients are derived by hand below and checked against central finite
differences in float64 before anything is written. Inputs (embeddings, noise draws, running means) are
rounded to float32 first, and so is sigma * n, which the Java loss forms in float32 before adding it.

Run: python3 plugins/c3/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "c3_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
NORM_EPSILON = 1e-12  # torch.nn.functional.normalize's floor: a zero row stays zero


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), NORM_EPSILON)


def normalise_backward(x, grad_out):
    """y = x / max(||x||, eps) per row: dL/dx = (g - y <y, g>) / ||x||, or g / eps below the floor."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    y = normalise(x)
    above = (grad_out - y * np.sum(y * grad_out, axis=1, keepdims=True)) / np.maximum(norm, NORM_EPSILON)
    below = grad_out / NORM_EPSILON
    return np.where(norm > NORM_EPSILON, above, below)


def prepared(a, centre, noise):
    u = normalise(a)
    centred = u - (u.mean(axis=0, keepdims=True) if centre is None else centre)
    return normalise(centred + noise), u, centred + noise


def c3_loss(a, b, temperature, centres, noises):
    w, _, _ = prepared(a, centres[0], noises[0])
    z, _, _ = prepared(b, centres[1], noises[1])
    logits = w @ z.T / temperature
    rows = -np.mean(np.diag(log_softmax(logits, axis=1)))
    columns = -np.mean(np.diag(log_softmax(logits, axis=0)))
    return (rows + columns) / 2


def c3_gradients(a, b, temperature, centres, noises):
    """Hand-derived gradients with respect to a and b.

    With S = w z^T / tau, P its row softmax and Q its column softmax:
        dL/dS = ((P - I) + (Q - I)) / (2B),  dL/dw = dL/dS z / tau,  dL/dz = (dL/dS)^T w / tau.
    Back through the second normalisation to u'' (normalise_backward); the noise is a constant, so
    dL/du' = dL/du''. With the batch mean, u' = u - (1/B) sum_i u_i, so
        dL/du = dL/du' - mean over rows of dL/du';
    with a given (running) mean, dL/du = dL/du'. Then back through the first normalisation to a.
    """
    batch = a.shape[0]
    w, _, corrupted_a = prepared(a, centres[0], noises[0])
    z, _, corrupted_b = prepared(b, centres[1], noises[1])
    logits = w @ z.T / temperature
    identity = np.eye(batch)
    grad_logits = ((np.exp(log_softmax(logits, axis=1)) - identity)
                   + (np.exp(log_softmax(logits, axis=0)) - identity)) / (2 * batch)
    grads = []
    for x, corrupted, grad_unit, centre in ((a, corrupted_a, grad_logits @ z / temperature, centres[0]),
                                            (b, corrupted_b, grad_logits.T @ w / temperature, centres[1])):
        grad_centred = normalise_backward(corrupted, grad_unit)
        grad_u = grad_centred - grad_centred.mean(axis=0, keepdims=True) if centre is None else grad_centred
        grads.append(normalise_backward(x, grad_u))
    return grads


def modality_gap(a, b):
    return float(np.linalg.norm(normalise(a).mean(axis=0) - normalise(b).mean(axis=0)))


def finite_difference_gradients(a, b, temperature, centres, noises):
    h = FINITE_DIFFERENCE_STEP
    grads = []
    for array in (a, b):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = c3_loss(a, b, temperature, centres, noises)
            array[index] = saved - h
            minus = c3_loss(a, b, temperature, centres, noises)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def check_gradients(name, a, b, temperature, centres, noises):
    analytic = c3_gradients(a, b, temperature, centres, noises)
    numeric = finite_difference_gradients(a.copy(), b.copy(), temperature, centres, noises)
    for what, x, y in zip(("a", "b"), analytic, numeric):
        error = float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
    print(f"  {name}: gradients match finite differences")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def paired(rng, batch, dim, noise, offset=0.0):
    """Two towers, row i of b near row i of a; `offset` shifts b away, a modality gap to collapse."""
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim)) + offset
    return float32_rounded(a), float32_rounded(b)


def case(name, rng, a, b, temperature, noise_std=0.0, running=False):
    batch, dim = a.shape
    draws = [float32_rounded(rng.normal(size=(batch, dim))) for _ in range(2)] if noise_std > 0 else None
    # What the Java loss adds: float32(noise_std * draw).
    noises = [float32_rounded(noise_std * d) for d in draws] if draws else [0.0, 0.0]
    centres = [None, None]
    running_means = None
    if running:
        # A running mean near, not at, the batch mean, as after a few steps.
        running_means = [float32_rounded(normalise(x).mean(axis=0, keepdims=True)
                                         + 0.05 * rng.normal(size=(1, dim))) for x in (a, b)]
        centres = running_means
    check_gradients(name, a, b, temperature, centres, noises)
    grad_a, grad_b = c3_gradients(a, b, temperature, centres, noises)
    return {
        "name": name,
        "temperature": temperature,
        "noise_std": noise_std,
        "centring": "running" if running else "batch",
        "a": a.tolist(),
        "b": b.tolist(),
        "noise_a": draws[0].tolist() if draws else None,
        "noise_b": draws[1].tolist() if draws else None,
        "running_mean_a": running_means[0][0].tolist() if running else None,
        "running_mean_b": running_means[1][0].tolist() if running else None,
        "loss": float(c3_loss(a, b, temperature, centres, noises)) + 0.0,
        "modality_gap": modality_gap(a, b),
        "grad_a": grad_a.tolist(),
        "grad_b": grad_b.tolist(),
    }


def main():
    rng = np.random.default_rng(20240116)  # the arXiv date of the C3 paper
    cases = []
    a, b = paired(rng, 4, 3, 0.5, offset=0.8)
    cases.append(case("b4_d3_no_noise", rng, a, b, 0.07))
    a, b = paired(rng, 8, 16, 0.5, offset=0.5)
    cases.append(case("b8_d16_no_noise", rng, a, b, 0.07))
    cases.append(case("b8_d16_noise", rng, a, b, 0.07, noise_std=0.1265))
    cases.append(case("b8_d16_running_mean_noise", rng, a, b, 0.07, noise_std=0.1265, running=True))
    cases.append(case("b8_d16_running_mean_no_noise", rng, a, b, 0.1, running=True))
    a, b = paired(rng, 1, 4, 0.5)
    # A batch of one centres to zero; the noise alone gives the rows a direction, and the loss is 0.
    cases.append(case("batch_of_one_noise", rng, a, b, 0.07, noise_std=0.1265))
    a, b = paired(rng, 5, 6, 0.5, offset=0.3)
    a[1] = a[0]
    b[1] = b[0]
    cases.append(case("two_identical_rows", rng, a, b, 0.07, noise_std=0.1265))
    # Logits up to 1000 and 1e4 (cosines over the temperature): stable only through the log-sum-exp shift.
    a, b = paired(rng, 6, 8, 1.0, offset=0.5)
    cases.append(case("temperature_0.001", rng, a, b, 0.001, noise_std=0.1265))
    cases.append(case("temperature_0.0001", rng, a, b, 0.0001))
    cases.append(case("temperature_1_large_noise", rng, a, b, 1.0, noise_std=1.0))
    document = {
        "description": "c3 loss reference values from plugins/c3/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
