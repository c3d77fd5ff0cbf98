#!/usr/bin/env python3
"""Loads an atx model checkpoint (`model.safetensors`, `Model.save`) into the PyTorch network
of models.py and writes its eval-mode logits (BN running statistics) for a batch.

Usage: eval_checkpoint.py MODEL.safetensors INPUT.safetensors OUT.safetensors [MODEL INPUT OUT ...]

INPUT holds a float32 tensor `input` [B, C, H, W]; OUT gets float32 `logits` [B, classes],
computed in float64. The checkpoint must hold exactly the network's tensors, by their
official names; anything missing or extra is an error.
"""

import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import Network  # noqa: E402


def main(model_path, input_path, out_path):
    with safe_open(model_path, "pt") as f:
        metadata = f.metadata() or {}
    if "model" not in metadata:
        raise SystemExit(f"{model_path}: no 'model' in the metadata; not an atx model checkpoint")
    net = Network(metadata["model"], int(metadata.get("in_channels", "3")), int(metadata.get("num_classes", "10")))
    state = load_file(model_path)
    expected = {t.name: t.shape for t in net.tensors}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise SystemExit(f"{model_path}: missing tensors {missing}, unexpected tensors {extra}")
    for name, shape in expected.items():
        if tuple(state[name].shape) != tuple(shape):
            raise SystemExit(f"{model_path}: {name} has shape {list(state[name].shape)}, the network needs {list(shape)}")
    params = {k: state[k].double() for k in net.parameter_names}
    buffers = {k: state[k].double() for k in net.buffer_names}
    x = load_file(input_path)["input"].double()
    with torch.no_grad():
        logits, _ = net.forward(params, buffers, x, train=False)
    save_file({"logits": logits.float().contiguous()}, out_path, metadata={"model": metadata["model"]})


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 3:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    for i in range(0, len(args), 3):
        main(*args[i:i + 3])
