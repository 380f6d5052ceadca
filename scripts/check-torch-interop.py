#!/usr/bin/env python3
"""Checks that kiln checkpoints and PyTorch state_dicts are interchangeable.

1. Loads a trainer's checkpoint (safetensors, read here without the
   safetensors package) into the equivalent torch.nn.Module with
   load_state_dict(strict=True), evaluates it on the Fashion-MNIST test set
   and prints its accuracy, which must equal the trainer's `eval`.
2. Writes the module's own state_dict (after one PyTorch training step) as
   safetensors, for `trainer eval --weights` / `train --init-from`.

Usage (Debian's python3-torch):
  /usr/bin/python3 scripts/check-torch-interop.py mlp|lenet CKPT OUT.safetensors
"""
import gzip, json, struct, sys
import torch, torch.nn as nn

MODELS = {
    "mlp": lambda: nn.ModuleDict({"fc1": nn.Linear(784, 128),
                                  "fc2": nn.Linear(128, 64),
                                  "fc3": nn.Linear(64, 10)}),
    "lenet": lambda: nn.ModuleDict({"conv1": nn.Conv2d(1, 6, 3),
                                    "conv2": nn.Conv2d(6, 16, 3),
                                    "fc1": nn.Linear(400, 120),
                                    "fc2": nn.Linear(120, 10)}),
}


def forward(name, m, x):
    r = torch.relu
    if name == "mlp":
        return m["fc3"](r(m["fc2"](r(m["fc1"](x.flatten(1))))))
    p = nn.functional.max_pool2d
    x = p(r(m["conv2"](p(r(m["conv1"](x)), 2))), 2)
    return m["fc2"](r(m["fc1"](x.flatten(1))))


DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=DTYPES[info["dtype"]])
        out[key] = t.reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for key, t in tensors.items():
        raw = t.detach().contiguous().float().numpy().tobytes()
        header[key] = {"dtype": "F32", "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_set():
    d = "/usr/share/datasets/fashion-mnist/"
    img = gzip.open(d + "t10k-images-idx3-ubyte.gz").read()[16:]
    lab = gzip.open(d + "t10k-labels-idx1-ubyte.gz").read()[8:]
    x = torch.frombuffer(bytearray(img), dtype=torch.uint8).float()
    x = ((x - 72.94) / 90.02).reshape(-1, 1, 28, 28)  # the train blocks' normalize
    return x, torch.tensor(list(lab))


def main():
    name, ckpt, out = sys.argv[1:4]
    model = MODELS[name]()
    model.load_state_dict(read_safetensors(ckpt), strict=True)
    x, y = test_set()
    with torch.no_grad():
        acc = (forward(name, model, x).argmax(1) == y).float().mean().item()
    print(f"{ckpt}: load_state_dict(strict=True) ok; test accuracy {acc:.4f}")
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(forward(name, model, x[:64]), y[:64])
    loss.backward()
    opt.step()
    write_safetensors(out, model.state_dict())
    print(f"wrote {out}: PyTorch's state_dict after one SGD step")


main()
