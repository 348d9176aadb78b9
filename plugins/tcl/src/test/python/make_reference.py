#!/usr/bin/env python3
"""Writes tcl_reference.json: reference values of the TCL loss for TclLossTest.

The loss is the triple contrastive objective of "Vision-Language Pre-Training with Triple
Contrastive Learning" (Yang et al., CVPR 2022), in-batch (no momentum encoders or queues):

    tau = clip(temperature, min_temperature, max_temperature)
    CMA  = (CE(u_a u_b^T / tau, diag) over rows + over columns) / 2                    image <-> text
    IMC  = mean over towers X with a view X' of CE(u_X u_X'^T / tau, diag) over rows    anchor -> view
    LMI  = mean over towers X in lmi of  mean_{i with locals} 1/|M_i| sum_{n in M_i} -log p_in
           p_in = exp(s_iin) / (exp(s_iin) + sum_{j != i} sum_{k in M_j} exp(s_ijk))
           s_ijk = <g_i, l_jk> / tau,  g = u_X,  l = the L2-normalised local (token) features of X'
           (or of X itself where X has no view), M_j the real (unmasked) locals of record j
    loss = cma_weight * CMA + imc_weight * IMC + lmi_weight * LMI

The LMI term follows in_batch_g2l_loss of the authors' code: the anchor's own other locals are not
in its denominator, the other records' locals are, padding is in neither.

numpy only (no torch). Gradients are derived by hand (in_batch_lmi_gradients and friends below) and
checked against central finite differences in float64 before anything is written; inputs are
rounded to float32 first so that the Java test feeds the loss exactly these values.

Run: python3 plugins/tcl/src/test/python/make_reference.py
"""

import json
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "tcl_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
NORM_EPSILON = 1e-12


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), NORM_EPSILON)


def normalise_backward(x, grad_unit):
    """d/dx of x / ||x|| (last axis) applied to the gradient with respect to the unit vector."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    unit = x / norm
    return (grad_unit - unit * np.sum(unit * grad_unit, axis=-1, keepdims=True)) / norm


def effective_temperature(c):
    return min(max(c["temperature_value"], c["min_temperature"]), c["max_temperature"])


# --- the three terms, each as (loss, gradient with respect to its logits) ---------------------------

def cma(logits):
    """Symmetric InfoNCE with the diagonal as targets; returns the loss and dL/dlogits."""
    batch = logits.shape[0]
    eye = np.eye(batch)
    loss = -(np.trace(log_softmax(logits, 1)) + np.trace(log_softmax(logits, 0))) / (2 * batch)
    grad = ((np.exp(log_softmax(logits, 1)) - eye) + (np.exp(log_softmax(logits, 0)) - eye)) / (2 * batch)
    return loss, grad


def one_way(logits):
    """InfoNCE from each row to its diagonal candidate; returns the loss and dL/dlogits."""
    batch = logits.shape[0]
    loss = -np.trace(log_softmax(logits, 1)) / batch
    grad = (np.exp(log_softmax(logits, 1)) - np.eye(batch)) / batch
    return loss, grad


def in_batch_lmi(scores, mask):
    """scores [B, B, T] = s_ijk, mask [B, T]; returns the loss and dL/dscores.

    For anchor i and its local n, the candidates are (i, n) itself and every real local of every
    other record. With Z_in = log(exp(s_iin) + sum_{j != i, k in M_j} exp(s_ijk)):
        -log p_in = Z_in - s_iin,  d/ds_iin = p_in - 1,  d/ds_ijk = exp(s_ijk - Z_in) (j != i, k real)
    and each term is weighted by c_in = m_in / (|M_i| * number of anchors with locals).
    """
    batch, _, length = scores.shape
    counts = mask.sum(axis=1)
    has = counts > 0
    anchors = max(has.sum(), 1)
    loss = 0.0
    grad = np.zeros_like(scores)
    for i in range(batch):
        if not has[i]:
            continue
        flat = np.array([scores[i, j, k] for j in range(batch) if j != i
                         for k in range(length) if mask[j, k] > 0])
        for n in range(length):
            if mask[i, n] == 0:
                continue
            weight = 1.0 / (counts[i] * anchors)
            row = np.concatenate([[scores[i, i, n]], flat])
            top = row.max()
            z = top + np.log(np.exp(row - top).sum())
            loss += weight * (z - scores[i, i, n])
            grad[i, i, n] += weight * (np.exp(scores[i, i, n] - z) - 1)
            for j in range(batch):
                if j == i:
                    continue
                for k in range(length):
                    if mask[j, k] > 0:
                        grad[i, j, k] += weight * np.exp(scores[i, j, k] - z)
    return loss, grad


# --- the whole loss and its gradients -------------------------------------------------------------

def tcl(c, inputs):
    """inputs: name -> array (embeddings of every tower, and 'tokens:<tower>' for token features).
    Returns the loss, the three terms, and the gradients with respect to every input and the
    temperature parameter."""
    tau = effective_temperature(c)
    first, second = c["towers"]
    grads = {name: np.zeros_like(value) for name, value in inputs.items()}
    grad_inverse_tau = 0.0  # dL/d(1/tau), accumulated over every logit s = <x, y> / tau

    def similarity_term(x_name, y_name, term):
        x = inputs[x_name]
        y = inputs[y_name]
        dots = normalise(x) @ normalise(y).T
        loss, grad_logits = term(dots / tau)
        return loss, grad_logits, x_name, y_name, dots

    terms = {}
    parts = []

    loss_cma, g, xn, yn, dots = similarity_term(first, second, cma)
    terms["cma"] = loss_cma
    parts.append((c["cma_weight"], g, xn, yn, dots))

    imc_losses = []
    imc_parts = []
    for tower in c["towers"]:
        if tower in c["views"]:
            loss, g, xn, yn, dots = similarity_term(tower, c["views"][tower], one_way)
            imc_losses.append(loss)
            imc_parts.append((g, xn, yn, dots))
    terms["imc"] = float(np.mean(imc_losses)) if imc_losses else 0.0
    for g, xn, yn, dots in imc_parts:
        parts.append((c["imc_weight"] / len(imc_parts), g, xn, yn, dots))

    lmi_losses = []
    for tower in c["lmi_towers"]:
        source = c["views"].get(tower, tower)
        x = inputs[tower]
        tokens = inputs["tokens:" + source]
        mask = np.array(c["masks"][source], dtype=np.float64) if c["masks"].get(source) is not None \
            else np.ones(tokens.shape[:2])
        g = normalise(x)
        l = normalise(tokens)
        dots = np.einsum("id,jkd->ijk", g, l)
        loss, grad_scores = in_batch_lmi(dots / tau, mask)
        lmi_losses.append(loss)
        weight = c["lmi_weight"] / len(c["lmi_towers"])
        grad_dots = weight * grad_scores / tau
        grad_inverse_tau += weight * np.sum(grad_scores * dots)
        grad_g = np.einsum("ijk,jkd->id", grad_dots, l)
        grad_l = np.einsum("ijk,id->jkd", grad_dots, g)
        grads[tower] += normalise_backward(x, grad_g)
        grads["tokens:" + source] += normalise_backward(tokens, grad_l)
    terms["lmi"] = float(np.mean(lmi_losses)) if lmi_losses else 0.0

    for weight, grad_logits, x_name, y_name, dots in parts:
        grad_dots = weight * grad_logits / tau
        grad_inverse_tau += weight * np.sum(grad_logits * dots)
        x = inputs[x_name]
        y = inputs[y_name]
        grads[x_name] += normalise_backward(x, grad_dots @ normalise(y))
        grads[y_name] += normalise_backward(y, grad_dots.T @ normalise(x))

    loss = c["cma_weight"] * terms["cma"] + c["imc_weight"] * terms["imc"] + c["lmi_weight"] * terms["lmi"]
    # d(1/tau)/dtau = -1/tau^2, and tau only moves with the parameter inside [min, max] (inclusive).
    inside = c["min_temperature"] <= c["temperature_value"] <= c["max_temperature"]
    grad_temperature = -grad_inverse_tau / tau ** 2 if inside else 0.0
    return loss, terms, grads, grad_temperature


def loss_only(c, inputs):
    return tcl(c, inputs)[0]


def check_gradients(c, inputs):
    _, _, analytic, grad_temperature = tcl(c, inputs)
    h = FINITE_DIFFERENCE_STEP
    worst = 0.0
    for name, array in inputs.items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = loss_only(c, inputs)
            array[index] = saved - h
            minus = loss_only(c, inputs)
            array[index] = saved
            numeric[index] = (plus - minus) / (2 * h)
        error = np.max(np.abs(analytic[name] - numeric) / np.maximum(1.0, np.abs(analytic[name])))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{c['name']}: gradient with respect to {name} is off from central finite "
                                 f"differences by {error:.3g} (relative)")
        worst = max(worst, error)
    # The clip of the temperature is inclusive (PyTorch's clamp passes the gradient at its bounds), so at
    # a bound the derivative is the one-sided one from inside: a second-order one-sided difference there,
    # a central one elsewhere.
    value = c["temperature_value"]
    shifted = dict(c)

    def at(t):
        shifted["temperature_value"] = t
        return loss_only(shifted, inputs)

    step = 1e-4 * value
    if value == c["min_temperature"]:
        numeric = (-3 * at(value) + 4 * at(value + step) - at(value + 2 * step)) / (2 * step)
    elif value == c["max_temperature"]:
        numeric = (3 * at(value) - 4 * at(value - step) + at(value - 2 * step)) / (2 * step)
    else:
        step = min(h, 1e-3 * value)
        numeric = (at(value + step) - at(value - step)) / (2 * step)
    error = abs(grad_temperature - numeric) / max(1.0, abs(grad_temperature))
    if not error < FINITE_DIFFERENCE_TOLERANCE:
        raise AssertionError(f"{c['name']}: gradient with respect to the temperature is off by {error:.3g}")
    print(f"  {c['name']}: gradients match finite differences to {max(worst, error):.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float64).astype(np.float32).astype(np.float64)


def make_case(name, inputs, towers=("image", "text"), views=None, lmi_towers=(), masks=None, temperature=0.07,
              temperature_value=None, min_temperature=0.001, max_temperature=0.5,
              cma_weight=1.0, imc_weight=1.0, lmi_weight=1.0):
    inputs = {k: float32_rounded(v) for k, v in inputs.items()}
    c = {
        "name": name,
        "towers": list(towers),
        "views": dict(views or {}),
        "lmi_towers": list(lmi_towers),
        "masks": {k: (None if v is None else np.asarray(v, dtype=np.float64).tolist()) for k, v in (masks or {}).items()},
        "temperature": temperature,
        "temperature_value": float(np.float32(temperature if temperature_value is None else temperature_value)),
        "min_temperature": float(np.float32(min_temperature)),
        "max_temperature": float(np.float32(max_temperature)),
        "cma_weight": cma_weight,
        "imc_weight": imc_weight,
        "lmi_weight": lmi_weight,
    }
    check_gradients(c, {k: v.copy() for k, v in inputs.items()})
    loss, terms, grads, grad_temperature = tcl(c, inputs)
    c["min_temperature"] = min_temperature
    c["max_temperature"] = max_temperature
    c["embeddings"] = {k: v.tolist() for k, v in inputs.items() if not k.startswith("tokens:")}
    c["tokens"] = {k[len("tokens:"):]: v.tolist() for k, v in inputs.items() if k.startswith("tokens:")}
    c["loss"] = float(loss) + 0.0
    c["terms"] = {k: float(v) + 0.0 for k, v in terms.items()}
    c["grad_embeddings"] = {k: v.tolist() for k, v in grads.items() if not k.startswith("tokens:")}
    c["grad_tokens"] = {k[len("tokens:"):]: v.tolist() for k, v in grads.items() if k.startswith("tokens:")}
    c["grad_temperature"] = grad_temperature + 0.0
    return c


def main():
    rng = np.random.default_rng(20220228)  # the arXiv date of the TCL paper
    cases = []

    def towers_and_views(batch, dim, length, noise=0.5):
        image = rng.normal(size=(batch, dim))
        text = image + noise * rng.normal(size=(batch, dim))
        return {
            "image": image,
            "text": text,
            "image_view": image + noise * rng.normal(size=(batch, dim)),
            "text_view": text + noise * rng.normal(size=(batch, dim)),
            "tokens:image_view": image[:, None, :] + rng.normal(size=(batch, length, dim)),
            "tokens:text_view": text[:, None, :] + rng.normal(size=(batch, length, dim)),
        }

    # Every term: views for both towers, locals from the views, text padded, image patches all real.
    inputs = towers_and_views(4, 5, 3)
    text_mask = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 0]]
    cases.append(make_case("all_terms_b4", inputs, views={"image": "image_view", "text": "text_view"},
                           lmi_towers=["image", "text"], masks={"text_view": text_mask, "image_view": None}))
    # LMI from a tower's own tokens, no views, no IMC.
    image = rng.normal(size=(5, 4))
    text = image + 0.5 * rng.normal(size=(5, 4))
    inputs = {"image": image, "text": text, "tokens:text": text[:, None, :] + rng.normal(size=(5, 4, 4))}
    cases.append(make_case("lmi_from_own_tokens", inputs, lmi_towers=["text"],
                           masks={"text": [[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]},
                           imc_weight=0.0))
    # A batch of one: no negatives anywhere, every term is 0.
    inputs = towers_and_views(1, 4, 3)
    cases.append(make_case("batch_of_one", inputs, views={"image": "image_view", "text": "text_view"},
                           lmi_towers=["image", "text"], masks={"text_view": [[1, 1, 0]]}))
    # Two identical records, and a record whose locals are all padding (it is no LMI anchor).
    inputs = towers_and_views(4, 4, 3)
    for key in inputs:
        inputs[key][1] = inputs[key][0]
    cases.append(make_case("duplicates_and_an_empty_record", inputs, views={"image": "image_view", "text": "text_view"},
                           lmi_towers=["text"], masks={"text_view": [[1, 1, 0], [1, 1, 0], [0, 0, 0], [1, 1, 1]]},
                           cma_weight=1.0, imc_weight=0.5, lmi_weight=2.0))
    # Only the image has a view; the temperature at its floor: logits reach 1000.
    inputs = towers_and_views(6, 8, 4, noise=1.0)
    del inputs["text_view"], inputs["tokens:text_view"]
    cases.append(make_case("temperature_0.001", inputs, views={"image": "image_view"}, lmi_towers=["image"],
                           temperature=0.001))
    cases.append(make_case("temperature_0.5", inputs, views={"image": "image_view"}, lmi_towers=["image"],
                           temperature=0.5))
    # An optimiser step has left the learned temperature above max_temperature: it is used clipped to
    # 0.5 and gets no gradient.
    cases.append(make_case("temperature_clamped", inputs, views={"image": "image_view"}, lmi_towers=["image"],
                           temperature=0.07, temperature_value=0.9))
    document = {
        "description": "TCL loss reference values from plugins/tcl/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
