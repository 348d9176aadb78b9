#!/usr/bin/env python3
"""Writes modality_dropout_reference.json: reference values of the modality-dropout loss for
ModalityDropoutLossTest.

Modality dropout trains a model of N modalities so that it still works when some are missing at test time,
as in "MMG-Ego4D: Multi-Modal Generalization in Egocentric Action Recognition" (Gong et al., CVPR 2023):
at every training step whole modalities are left out. Here the towers kept at a step are contrasted in
pairs, with CLIP's symmetric InfoNCE and one shared (learnable) logit scale:

    u_k = x_k / ||x_k||                                   each tower's rows L2-normalised
    t = min(logit_scale, log(max_logit_scale))
    L_kl = (CE(exp(t) u_k u_l^T, diag) + CE(exp(t) u_l u_k^T, diag)) / 2
    loss = sum over the pairs k < l of kept towers of L_kl

Which towers are kept is drawn per step (and tested in Java on its own); each case here fixes the kept set,
so the value and the gradients are a function of the inputs alone. A dropped tower gets no gradient.

The script uses numpy only (no torch), so the reference is independent of the engine under test.
Gradients are derived by hand below and checked here against central finite differences in float64 before
anything is written. Inputs are rounded to float32 first, so that the Java test feeds the loss exactly the
values the reference was computed from.

Run: python3 plugins/modality-dropout/src/test/python/make_reference.py
"""

import itertools
import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "modality_dropout_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def clipped(logit_scale, max_logit_scale):
    return min(logit_scale, math.log(max_logit_scale))


def kept_pairs(kept):
    return [(k, l) for k, l in itertools.combinations(range(len(kept)), 2) if kept[k] and kept[l]]


def pair_loss(x, y, scale):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    v = y / np.linalg.norm(y, axis=1, keepdims=True)
    logits = scale * u @ v.T
    return (-np.mean(np.diag(log_softmax(logits, 1))) - np.mean(np.diag(log_softmax(logits, 0)))) / 2


def dropout_loss(towers, kept, logit_scale, max_logit_scale):
    scale = math.exp(clipped(logit_scale, max_logit_scale))
    return float(sum(pair_loss(towers[k], towers[l], scale) for k, l in kept_pairs(kept)))


def dropout_gradients(towers, kept, logit_scale, max_logit_scale):
    """The hand-derived gradients of dropout_loss with respect to every tower and logit_scale.

    Per kept pair (k, l), S = s u_k u_l^T with s = exp(t):
        G = dL/dS = ((softmax_rows(S) - I) + (softmax_columns(S) - I)) / (2B)
        dL/du_k += s G u_l,  dL/du_l += s G^T u_k,  dL/dt += sum(G * S)   (0 where t is clipped)
    and through u = x / ||x|| per row: dL/dx = (dL/du - u <u, dL/du>) / ||x||.
    """
    batch = towers[0].shape[0]
    norms = [np.linalg.norm(x, axis=1, keepdims=True) for x in towers]
    units = [x / n for x, n in zip(towers, norms)]
    scale = math.exp(clipped(logit_scale, max_logit_scale))
    grad_units = [np.zeros_like(x) for x in towers]
    grad_scale = 0.0
    identity = np.eye(batch)
    for k, l in kept_pairs(kept):
        logits = scale * units[k] @ units[l].T
        grad_logits = ((np.exp(log_softmax(logits, 1)) - identity) + (np.exp(log_softmax(logits, 0)) - identity)) \
            / (2 * batch)
        grad_units[k] += scale * grad_logits @ units[l]
        grad_units[l] += scale * grad_logits.T @ units[k]
        grad_scale += float(np.sum(grad_logits * logits))
    grads = [(g - u * np.sum(u * g, axis=1, keepdims=True)) / n for g, u, n in zip(grad_units, units, norms)]
    if logit_scale > math.log(max_logit_scale):
        grad_scale = 0.0
    return grads, grad_scale


def finite_difference_gradients(towers, kept, logit_scale, max_logit_scale):
    h = FINITE_DIFFERENCE_STEP
    grads = [np.zeros_like(x) for x in towers]
    for array, grad in zip(towers, grads):
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = dropout_loss(towers, kept, logit_scale, max_logit_scale)
            array[index] = saved - h
            minus = dropout_loss(towers, kept, logit_scale, max_logit_scale)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
    plus = dropout_loss(towers, kept, logit_scale + h, max_logit_scale)
    minus = dropout_loss(towers, kept, logit_scale - h, max_logit_scale)
    return grads, (plus - minus) / (2 * h)


def check_gradients(name, towers, kept, logit_scale, max_logit_scale):
    analytic, analytic_scale = dropout_gradients(towers, kept, logit_scale, max_logit_scale)
    numeric, numeric_scale = finite_difference_gradients(towers, kept, logit_scale, max_logit_scale)
    pairs = [(f"tower {k}", x, y) for k, (x, y) in enumerate(zip(analytic, numeric))]
    pairs.append(("logit_scale", np.array([analytic_scale]), np.array([numeric_scale])))
    for what, x, y in pairs:
        error = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x)))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: gradient with respect to {what} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        print(f"  {name}: d loss / d {what} matches finite differences to {error:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def case(rng, name, batch, dim, kept, temperature, max_logit_scale=100.0, logit_scale=None):
    base = rng.normal(size=(batch, dim))
    towers = [float32_rounded(base + 0.6 * rng.normal(size=(batch, dim))) for _ in kept]
    if logit_scale is None:
        logit_scale = math.log(1.0 / temperature)
    logit_scale = float(np.float32(logit_scale))
    check_gradients(name, [x.copy() for x in towers], kept, logit_scale, max_logit_scale)
    grads, grad_scale = dropout_gradients(towers, kept, logit_scale, max_logit_scale)
    return {
        "name": name,
        "temperature": temperature,
        "max_logit_scale": max_logit_scale,
        "logit_scale": logit_scale,
        "kept": [bool(k) for k in kept],
        "towers": [x.tolist() for x in towers],
        "loss": dropout_loss(towers, kept, logit_scale, max_logit_scale) + 0.0,
        "pair_losses": {f"{k}-{l}": float(pair_loss(towers[k], towers[l], math.exp(clipped(logit_scale,
                                                                                           max_logit_scale))))
                        for k, l in kept_pairs(kept)},
        "grads": [g.tolist() for g in grads],
        "grad_logit_scale": grad_scale,
    }


def main():
    rng = np.random.default_rng(20221123)  # the arXiv date of the MMG-Ego4D paper
    cases = [
        case(rng, "three_towers_all_kept", 6, 5, [True, True, True], 0.07),
        case(rng, "three_towers_first_dropped", 6, 5, [False, True, True], 0.07),
        case(rng, "three_towers_middle_dropped", 6, 5, [True, False, True], 0.07),
        case(rng, "four_towers_two_dropped", 5, 4, [True, False, True, False], 0.1),
        case(rng, "four_towers_all_kept", 5, 4, [True, True, True, True], 0.1),
        case(rng, "batch_of_one", 1, 4, [True, True, False], 0.07),
        # At 0.001 the logits reach 1000, where exp overflows float32 without the log-sum-exp shift.
        case(rng, "temperature_0.001", 6, 8, [True, True, True], 0.001, max_logit_scale=10000.0),
        case(rng, "temperature_1", 6, 8, [True, True, True], 1.0),
        # An optimiser step left logit_scale above the cap: the loss uses a scale of 100, logit_scale gets no gradient.
        case(rng, "logit_scale_clipped", 6, 8, [True, True, False], 0.01, logit_scale=math.log(1000.0)),
    ]
    document = {
        "description": "Modality-dropout loss reference values from "
                       "plugins/modality-dropout/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
