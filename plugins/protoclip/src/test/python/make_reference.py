#!/usr/bin/env python3
"""Writes protoclip_reference.json: reference values of the ProtoCLIP loss for ProtoClipLossTest.

The loss of "Prototypical Contrastive Language Image Pretraining" (Chen et al., IEEE TNNLS 2023) for
given prototypes: CLIP's instance-level InfoNCE plus cross-modal prototype discrimination, in which an
image's distribution over the TEXT prototypes is taught by its caption's assignment, and back:

    u = a / ||a||, v = b / ||b||                                   (rows L2-normalised)
    instance = (CE(s u v^T, diag) + CE(s v u^T, diag)) / 2         s = exp(t), t clamped to log(cap)
    l_T(i) = argmin_k ||v_i - C_T[k]||,  l_I(i) = argmin_k ||u_i - C_I[k]||   (no gradient)
    q_T(i) = softmax(C_T[l_T(i)] C_T^T / tau_teacher),  q_I(i) likewise with C_I
    image->text = -mean_i sum_k q_T(i)_k log softmax(p u_i S_I^T)_k   p = exp(t_p), t_p clamped
    text->image = -mean_i sum_k q_I(i)_k log softmax(p v_i S_T^T)_k
    loss = w_instance instance + w_proto (image->text + text->image) / 2

C_I and C_T are the k-means centroids of the two modalities; S_I and S_T are the student centroids:
with Prototype Back Translation, S_I is the image-space mean of each text cluster and S_T the
text-space mean of each image cluster; without, S_I = C_T and S_T = C_I. Here they are simply inputs.
Without prototypes (before the first clustering) the loss is w_instance instance.

numpy only (no torch), so the reference is independent of the engine under test. Gradients are derived
by hand below and checked against central finite differences in float64 before anything is written.
Inputs are rounded to float32 first; every nearest-centroid choice is kept at least 1e-3 from a tie, so
float32 picks the same labels.

Run: python3 plugins/protoclip/src/test/python/make_reference.py
"""

import json
import math
import pathlib

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "protoclip_reference.json"
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6
TIE_DISTANCE = 1e-3


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def nearest(points, centroids):
    """Index of the nearest centroid of each row, and the smallest gap between best and second best squared distances."""
    d = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    labels = d.argmin(axis=1)
    ordered = np.sort(d, axis=1)
    gap = (ordered[:, 1] - ordered[:, 0]).min() if d.shape[1] > 1 else np.inf
    return labels, gap


def teacher(centroids, labels, teacher_temperature):
    return np.exp(log_softmax(centroids[labels] @ centroids.T / teacher_temperature, axis=1))


def evaluate(a, b, p):
    """The loss, its parts and the hand-derived gradients (a, b, logit_scale, proto_logit_scale)."""
    batch = a.shape[0]
    cap = math.log(p["max_logit_scale"])
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    u = a / norm_a
    v = b / norm_b
    scale = math.exp(min(p["logit_scale"], cap))
    logits = scale * u @ v.T
    identity = np.eye(batch)
    instance = (-np.mean(np.diag(log_softmax(logits, 1))) - np.mean(np.diag(log_softmax(logits, 0)))) / 2
    grad_logits = ((np.exp(log_softmax(logits, 1)) - identity) + (np.exp(log_softmax(logits, 0)) - identity)) / (2 * batch)
    grad_logits *= p["instance_weight"]
    grad_u = scale * grad_logits @ v
    grad_v = scale * grad_logits.T @ u
    grad_t = 0.0 if p["logit_scale"] > cap else float(np.sum(grad_logits * logits))
    value = p["instance_weight"] * instance
    out = {"instance_loss": instance, "grad_proto_logit_scale": 0.0}
    if p["image_centroids"] is not None:
        c_i, c_t = np.array(p["image_centroids"]), np.array(p["text_centroids"])
        s_i, s_t = np.array(p["image_student"]), np.array(p["text_student"])
        proto_scale = math.exp(min(p["proto_logit_scale"], cap))
        labels_t, _ = nearest(v, c_t)
        labels_i, _ = nearest(u, c_i)
        q_t = teacher(c_t, labels_t, p["teacher_temperature"])
        q_i = teacher(c_i, labels_i, p["teacher_temperature"])
        logits_it = proto_scale * u @ s_i.T
        logits_ti = proto_scale * v @ s_t.T
        image_to_text = -np.mean(np.sum(q_t * log_softmax(logits_it, 1), axis=1))
        text_to_image = -np.mean(np.sum(q_i * log_softmax(logits_ti, 1), axis=1))
        proto = (image_to_text + text_to_image) / 2
        value += p["proto_weight"] * proto
        # d/dlogits of -mean_i sum_k q_ik log softmax_ik = (softmax - q) / B, as each q row sums to 1.
        grad_it = p["proto_weight"] * (np.exp(log_softmax(logits_it, 1)) - q_t) / (2 * batch)
        grad_ti = p["proto_weight"] * (np.exp(log_softmax(logits_ti, 1)) - q_i) / (2 * batch)
        grad_u = grad_u + proto_scale * grad_it @ s_i
        grad_v = grad_v + proto_scale * grad_ti @ s_t
        out["grad_proto_logit_scale"] = 0.0 if p["proto_logit_scale"] > cap else float(
            np.sum(grad_it * logits_it) + np.sum(grad_ti * logits_ti))
        accuracy = (np.mean(logits_it.argmax(axis=1) == labels_t) + np.mean(logits_ti.argmax(axis=1) == labels_i)) / 2
        out.update(proto_loss=proto, text_labels=labels_t.tolist(), image_labels=labels_i.tolist(),
                   proto_accuracy=float(accuracy))
    grad_a = (grad_u - u * np.sum(u * grad_u, axis=1, keepdims=True)) / norm_a
    grad_b = (grad_v - v * np.sum(v * grad_v, axis=1, keepdims=True)) / norm_b
    out.update(loss=value, grad_a=grad_a, grad_b=grad_b, grad_logit_scale=grad_t)
    return out


def check_gradients(name, a, b, p):
    analytic = evaluate(a, b, p)
    h = FINITE_DIFFERENCE_STEP
    numeric = {}
    for key, array in (("grad_a", a.copy()), ("grad_b", b.copy())):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = evaluate(array, b, p)["loss"] if key == "grad_a" else evaluate(a, array, p)["loss"]
            array[index] = saved - h
            minus = evaluate(array, b, p)["loss"] if key == "grad_a" else evaluate(a, array, p)["loss"]
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        numeric[key] = grad
    for key, scale in (("grad_logit_scale", "logit_scale"), ("grad_proto_logit_scale", "proto_logit_scale")):
        shifted = dict(p)
        shifted[scale] = p[scale] + h
        plus = evaluate(a, b, shifted)["loss"]
        shifted[scale] = p[scale] - h
        minus = evaluate(a, b, shifted)["loss"]
        numeric[key] = (plus - minus) / (2 * h)
    worst = 0.0
    for key, y in numeric.items():
        x = np.asarray(analytic[key], dtype=np.float64)
        error = float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(x))))
        if not error < FINITE_DIFFERENCE_TOLERANCE:
            raise AssertionError(f"{name}: {key} is off from central finite differences by {error:.3g} (relative)")
        worst = max(worst, error)
    print(f"  {name}: gradients match finite differences to {worst:.2g}")


def float32_rounded(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def f32(value):
    return float(np.float32(value))


def case(name, a, b, prototypes=None, temperature=0.07, proto_temperature=0.07, max_logit_scale=100.0,
         teacher_temperature=0.01, instance_weight=1.0, proto_weight=1.0, logit_scale=None, proto_logit_scale=None):
    p = {
        "temperature": temperature,
        "proto_temperature": proto_temperature,
        "max_logit_scale": max_logit_scale,
        "teacher_temperature": teacher_temperature,
        "instance_weight": instance_weight,
        "proto_weight": proto_weight,
        "logit_scale": f32(math.log(1 / temperature) if logit_scale is None else logit_scale),
        "proto_logit_scale": f32(math.log(1 / proto_temperature) if proto_logit_scale is None else proto_logit_scale),
        "image_centroids": None, "text_centroids": None, "image_student": None, "text_student": None,
    }
    if prototypes is not None:
        for key, array in zip(("image_centroids", "text_centroids", "image_student", "text_student"), prototypes):
            p[key] = float32_rounded(array).tolist()
        u = a / np.linalg.norm(a, axis=1, keepdims=True)
        v = b / np.linalg.norm(b, axis=1, keepdims=True)
        gap = min(nearest(u, np.array(p["image_centroids"]))[1], nearest(v, np.array(p["text_centroids"]))[1])
        if gap < TIE_DISTANCE:
            raise AssertionError(f"{name}: a nearest-centroid choice is {gap:.2g} from a tie")
    check_gradients(name, a, b, p)
    out = evaluate(a, b, p)
    print(f"  {name}: loss {out['loss']:.6g}" + (f", proto {out['proto_loss']:.4g}, labels {out['text_labels']}"
                                                  if prototypes is not None else ""))
    document = dict(name=name, a=a.tolist(), b=b.tolist(), **p)
    document.update(loss=float(out["loss"]) + 0.0, instance_loss=float(out["instance_loss"]),
                    proto_loss=float(out["proto_loss"]) if "proto_loss" in out else None,
                    proto_accuracy=out.get("proto_accuracy"),
                    text_labels=out.get("text_labels"), image_labels=out.get("image_labels"),
                    grad_a=out["grad_a"].tolist(), grad_b=out["grad_b"].tolist(),
                    grad_logit_scale=out["grad_logit_scale"], grad_proto_logit_scale=out["grad_proto_logit_scale"])
    return document


def paired(rng, batch, dim, noise):
    a = rng.normal(size=(batch, dim))
    b = a + noise * rng.normal(size=(batch, dim))
    return float32_rounded(a), float32_rounded(b)


def prototypes_for(rng, a, b, k, back_translation=True):
    """Centroids near some of the normalised rows, and students as Prototype Back Translation or plain."""
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    v = b / np.linalg.norm(b, axis=1, keepdims=True)
    c_i = u[rng.choice(len(u), k, replace=False)] + 0.2 * rng.normal(size=(k, a.shape[1]))
    c_t = v[rng.choice(len(v), k, replace=False)] + 0.2 * rng.normal(size=(k, a.shape[1]))
    if back_translation:
        s_i = c_t + 0.3 * rng.normal(size=c_t.shape)  # image-space stand-ins for the text clusters
        s_t = c_i + 0.3 * rng.normal(size=c_i.shape)
    else:
        s_i, s_t = c_t, c_i
    return c_i, c_t, s_i, s_t


def main():
    rng = np.random.default_rng(20220622)  # the arXiv date of the ProtoCLIP paper
    cases = []
    a, b = paired(rng, 6, 5, 0.5)
    cases.append(case("before_clustering", a, b))
    a, b = paired(rng, 1, 4, 0.5)
    cases.append(case("batch_of_one", a, b, prototypes_for(rng, a, b, 1)))
    a, b = paired(rng, 4, 3, 0.5)
    cases.append(case("b4_d3_k2", a, b, prototypes_for(rng, a, b, 2)))
    a, b = paired(rng, 8, 6, 0.7)
    cases.append(case("b8_d6_k4_back_translation", a, b, prototypes_for(rng, a, b, 4), teacher_temperature=0.1,
                      proto_weight=0.5, instance_weight=2.0))
    a, b = paired(rng, 8, 6, 0.7)
    cases.append(case("b8_d6_k3_plain_students", a, b, prototypes_for(rng, a, b, 3, back_translation=False),
                      teacher_temperature=0.05, proto_temperature=0.2))
    a, b = paired(rng, 5, 4, 0.5)
    a[3], b[3] = a[1], b[1]
    cases.append(case("two_identical_rows", a, b, prototypes_for(rng, a, b, 3), teacher_temperature=0.2))
    # Both scales above the cap (an optimiser step left them there): clamped, no gradient.
    a, b = paired(rng, 6, 4, 0.5)
    cases.append(case("scales_clamped", a, b, prototypes_for(rng, a, b, 3), teacher_temperature=0.1,
                      logit_scale=math.log(1000.0), proto_logit_scale=math.log(500.0)))
    # Temperatures of 0.001: logits up to 1000 (the cap raised so that the clamp does not hide it).
    a, b = paired(rng, 6, 4, 1.0)
    cases.append(case("temperature_0.001", a, b, prototypes_for(rng, a, b, 3), temperature=0.001,
                      proto_temperature=0.001, max_logit_scale=10000.0, teacher_temperature=0.05))
    document = {
        "description": "ProtoCLIP loss reference values from plugins/protoclip/src/test/python/make_reference.py "
                       "(numpy, float64, hand-derived gradients checked against central finite differences)",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}")


if __name__ == "__main__":
    main()
