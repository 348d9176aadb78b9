"""Writes the tiny TorchScript encoders that TorchScriptEncoderTest and TrainerTest load with init_from: torchscript:.

linear8.pt: float32 [B, 8] -> [B, 8], y = x W^T + b with W[i][j] = (i - j) / 10 and b[i] = i / 10, so a test can
compute the expected embeddings by hand. linear8to4.pt: the same shape of module with 4 outputs, for the error of a
module whose output does not fit the tower's embed_dim.

    /work/main/.modalign/bench/venv/bin/python framework-core/src/test/python/make_torchscript.py
"""

import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "torchscript"


class Projection(torch.nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.proj = torch.nn.Linear(inputs, outputs)
        with torch.no_grad():
            i = torch.arange(outputs, dtype=torch.float32).unsqueeze(1)
            j = torch.arange(inputs, dtype=torch.float32).unsqueeze(0)
            self.proj.weight.copy_((i - j) / 10)
            self.proj.bias.copy_(torch.arange(outputs, dtype=torch.float32) / 10)

    def forward(self, x):
        return self.proj(x)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.jit.script(Projection(8, 8)).save(str(OUT / "linear8.pt"))
    torch.jit.script(Projection(8, 4)).save(str(OUT / "linear8to4.pt"))


if __name__ == "__main__":
    main()
