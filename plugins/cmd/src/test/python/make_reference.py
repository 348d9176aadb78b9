"""Writes cmd_reference.json: reference values of the cmd loss for CmdLossTest.

An independent implementation in torch (float64, autograd for the gradients) of cross-modal mutual distillation
("CMD: Self-supervised 3D Action Representation Learning with Cross-modal Mutual Distillation", Mao et al., ECCV
2022, Eq. 4-6, with torch.nn.functional.kl_div as the authors' code does) beside MoCo's InfoNCE over the batch's
keys and the queues. The queues are given raw and normalised here, as the loss normalises what it enqueues.

    /work/main/.modalign/bench/venv/bin/python plugins/cmd/src/test/python/make_reference.py
"""

import json
import pathlib

import torch
import torch.nn.functional as F

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "cmd_reference.json"


def info_nce(q, k, queue, temperature, in_batch):
    if in_batch:
        logits, labels = q @ k.T, torch.arange(q.shape[0])
    else:
        logits, labels = (q * k).sum(1, keepdim=True), torch.zeros(q.shape[0], dtype=torch.long)
    if queue.shape[0]:
        logits = torch.cat([logits, q @ queue.T], dim=1)
    return F.cross_entropy(logits / temperature, labels)


def cmd_loss(a, b, a_key, b_key, a_queue, b_queue, p):
    ua, ub = F.normalize(a, dim=1), F.normalize(b, dim=1)
    uak, ubk = F.normalize(a_key, dim=1).detach(), F.normalize(b_key, dim=1).detach()
    ma = F.normalize(a_queue, dim=1) if a_queue.shape[0] else a_queue
    mb = F.normalize(b_queue, dim=1) if b_queue.shape[0] else b_queue
    contrastive = (info_nce(ua, ubk, mb, p["temperature"], p["in_batch"])
                   + info_nce(ub, uak, ma, p["temperature"], p["in_batch"])) / 2
    if ma.shape[0] == 0:
        return contrastive, contrastive * 0, contrastive
    a_memory, b_memory = (ma, mb) if p["neighbours"] == "same-modality" else (mb, ma)
    teacher_a = F.softmax(uak @ a_memory.T / p["teacher_temperature"], dim=1)
    teacher_b = F.softmax(ubk @ b_memory.T / p["teacher_temperature"], dim=1)
    student_a = F.log_softmax(ua @ a_memory.T / p["student_temperature"], dim=1)
    student_b = F.log_softmax(ub @ b_memory.T / p["student_temperature"], dim=1)
    distill = (F.kl_div(student_b, teacher_a, reduction="batchmean")
               + F.kl_div(student_a, teacher_b, reduction="batchmean")) / 2
    return contrastive + p["lambda"] * distill, distill, contrastive


def case(name, rng, batch, dim, queue_len, **params):
    p = {"temperature": 0.07, "student_temperature": 0.1, "teacher_temperature": 0.05, "lambda": 1.0,
         "neighbours": "same-modality", "in_batch": True}
    p.update(params)

    def f32(*shape):
        return torch.randn(*shape, generator=rng, dtype=torch.float32).double()

    a = f32(batch, dim)
    b = (a + 0.8 * f32(batch, dim)).float().double()
    a_key = (a + 0.1 * f32(batch, dim)).float().double()
    b_key = (b + 0.1 * f32(batch, dim)).float().double()
    base = f32(queue_len, dim)
    a_queue = (base + 0.5 * f32(queue_len, dim)).float().double()
    b_queue = (base + 0.5 * f32(queue_len, dim)).float().double()
    a.requires_grad_(True)
    b.requires_grad_(True)
    loss, distill, contrastive = cmd_loss(a, b, a_key, b_key, a_queue, b_queue, p)
    loss.backward()
    return dict(name=name, **{k if k != "lambda" else "distill_weight" : v for k, v in p.items()},
                a=a.detach().tolist(), b=b.detach().tolist(), a_key=a_key.tolist(), b_key=b_key.tolist(),
                a_queue=a_queue.tolist(), b_queue=b_queue.tolist(), loss=loss.item(), distill=distill.item(),
                contrastive=contrastive.item(), grad_a=a.grad.tolist(), grad_b=b.grad.tolist())


def main():
    rng = torch.Generator().manual_seed(20)
    cases = [
        case("same_modality", rng, 5, 4, 8),
        case("cross_modal_neighbours", rng, 5, 4, 8, neighbours="cross-modal"),
        case("distill_only_weighted", rng, 6, 3, 10, **{"lambda": 2.5, "in_batch": False,
                                                         "student_temperature": 0.2, "teacher_temperature": 0.04}),
        case("empty_queue", rng, 4, 4, 0),
        case("batch_of_one", rng, 1, 4, 5),
    ]
    document = {
        "description": "cmd loss reference values from plugins/cmd/src/test/python/make_reference.py (torch "
        + torch.__version__ + ", float64, autograd)",
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
