#!/usr/bin/python3
"""PyTorch reference numbers for kiln's training step (see README.md here).

Every example model (examples/*.kiln) is re-written below BY HAND as a
torch.nn.Module whose state_dict keys are kiln's checkpoint keys. For every
model and every optimizer in OPTIMIZERS this script runs 5 training steps in
float64 from deterministic weights and batches and writes
<model>-<optimizer>.safetensors beside itself, holding
  loss            F64 [5]  the loss of each step, before that step's update
  grad.<param>             the step-0 gradient of each trainable parameter
  final.<name>             each parameter and buffer after the 5 steps
Tensors of more than 4096 elements are sampled at the flat (row-major)
indices floor(k * numel / 4096), k = 0..4095, and stored with shape [4096].

Weights, batches and dropout masks come from kiln's counter-based random
numbers (runtime/Random.h), reimplemented below bit for bit with numpy
uint64 arithmetic, so the C++ side (test/reference/ReferenceTest.cpp)
rebuilds exactly the same inputs without torch.

Usage (Debian's interpreter, which has python3-torch and python3-numpy):
  /usr/bin/python3 test/reference/make_reference.py            # regenerate
  /usr/bin/python3 test/reference/make_reference.py --check    # re-read files
  /usr/bin/python3 test/reference/make_reference.py mlp adam   # a subset
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5
SAMPLES = 4096
SAMPLING = "indices floor(k*numel/4096), k<4096, when numel > 4096"
M64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# runtime/Random.h, bit for bit. numpy uint64 arithmetic wraps modulo 2^64.
# ---------------------------------------------------------------------------


def splitmix64(x):
    """splitmix64 of a uint64 scalar or array."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fnv1a(name):
    """64-bit FNV-1a of the UTF-8 bytes of `name`."""
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def random_bits(key, n):
    """randomBits(key, i) for i = 0..n-1."""
    return splitmix64(np.uint64(key) ^ splitmix64(np.arange(n, dtype=np.uint64)))


def uniform01(key, n):
    """uniform01(key, i) for i = 0..n-1: (bits >> 11) * 2^-53, in [0, 1)."""
    return (random_bits(key, n) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def dropout_key(seed, stream):
    """dropoutKey(seed, stream) = splitmix64(seed) ^ splitmix64(~stream)."""
    return int(splitmix64(seed & M64)) ^ int(splitmix64(~stream & M64))


class Dropout(nn.Module):
    """kiln's dropout op number `stream` (source order, from 0): element i
    (row-major flat index) is kept iff uniform01(dropoutKey(seed, stream), i)
    >= p, and kept elements are scaled by 1/(1-p). The seed is set per step."""

    def __init__(self, p, stream):
        super().__init__()
        self.p, self.stream, self.seed = p, stream, 0

    def forward(self, x):
        if not self.training:
            return x
        keep = uniform01(dropout_key(self.seed, self.stream), x.numel()) >= self.p
        mask = torch.from_numpy(keep.reshape(tuple(x.shape))).to(x.dtype)
        return x * mask * (1.0 / (1.0 - self.p))

# The smallest |input| any ReLU saw while training: an input within f32
# rounding of 0 (about 1e-6 here) can switch sides of the kink in a float
# evaluation and change that unit's gradient, which Adam then turns into
# an update of about lr. make() reports it per file.
RELU_MARGIN = [math.inf]


def relu(x):
    RELU_MARGIN[0] = min(RELU_MARGIN[0], float(x.detach().abs().min()))
    return F.relu(x)


# ---------------------------------------------------------------------------
# The example models. Attribute names are kiln's layer names, so state_dict
# keys are kiln's checkpoint keys. `inputs`/`targets` give each batch tensor
# the per-sample shape and how it is drawn:
#   ("f32", shape)         uniform01 in [0, 1)
#   ("class", classes)     i64 [B]: floor(uniform01 * classes)
#   ("ids", shape, num)    i64: floor(uniform01 * num) (embedding ids)
# `frozen` lists parameters excluded from training (`param ... frozen`,
# `freeze NAME`). forward(**batch) returns the loss (mean reduction).
# ---------------------------------------------------------------------------


class MLP(nn.Module):
    """examples/mlp.kiln"""
    inputs = {"x": ("f32", (784,))}
    targets = {"y": ("class", 10)}

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)  # logits = dense(h2, 10, name="fc3")

    def forward(self, x, y):
        h1 = relu(self.fc1(x))
        h2 = relu(self.fc2(h1))
        return F.cross_entropy(self.fc3(h2), y)


class LeNet(nn.Module):
    """examples/lenet.kiln"""
    inputs = {"x": ("f32", (1, 28, 28))}
    targets = {"y": ("class", 10)}

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)  # logits = dense(..., name="fc2")

    def forward(self, x, y):
        p1 = F.max_pool2d(relu(self.conv1(x)), 2)
        p2 = F.max_pool2d(relu(self.conv2(p1)), 2)
        fc1 = self.fc1(torch.flatten(p2, 1))
        return F.cross_entropy(self.fc2(relu(fc1)), y)


class CifarCNN(nn.Module):
    """examples/cifar_cnn.kiln"""
    inputs = {"x": ("f32", (3, 32, 32))}
    targets = {"y": ("class", 10)}

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 6 * 6, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x, y):
        p1 = F.max_pool2d(relu(self.conv1(x)), 2)
        p2 = F.max_pool2d(relu(self.conv2(p1)), 2)
        flat = p2.reshape(p2.shape[0], 64 * 6 * 6)
        fc2 = self.fc2(relu(self.fc1(flat)))
        return F.nll_loss(F.log_softmax(fc2, dim=1), y)


class ConvMNIST(nn.Module):
    """examples/conv_mnist.kiln (two dropout ops: streams 0 and 1)"""
    inputs = {"x": ("f32", (1, 28, 28))}
    targets = {"y": ("class", 10)}

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
        self.drop1 = Dropout(0.25, stream=0)
        self.drop2 = Dropout(0.5, stream=1)

    def forward(self, x, y):
        conv2 = self.conv2(relu(self.conv1(x)))
        p = F.max_pool2d(relu(conv2), 2)
        d1 = self.drop1(p)
        fc1 = self.fc1(torch.flatten(d1, 1))
        d2 = self.drop2(relu(fc1))
        return F.cross_entropy(self.fc2(d2), y)


class TwoLayer(nn.Module):
    """examples/two_layer.kiln"""
    inputs = {"x": ("f32", (8,))}
    targets = {"y": ("f32", (1,))}

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x, y):
        return F.mse_loss(self.out(torch.sigmoid(self.hidden(x))), y)


class Binary(nn.Module):
    """examples/binary.kiln"""
    inputs = {"x": ("f32", (30,))}
    targets = {"y": ("f32", (1,))}

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(30, 32)
        self.fc2 = nn.Linear(32, 16)
        self.out = nn.Linear(16, 1)  # logit = dense(..., name="out")

    def forward(self, x, y):
        fc2 = self.fc2(relu(self.fc1(x)))
        logit = self.out(relu(fc2))
        return F.binary_cross_entropy_with_logits(logit, y)


class Regression(nn.Module):
    """examples/regression.kiln"""
    inputs = {"x": ("f32", (13,))}
    targets = {"y": ("f32", (1,))}

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(13, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 1)

    def forward(self, x, y):
        fc2 = self.fc2(relu(self.fc1(x)))
        return F.mse_loss(self.out(relu(fc2)), y)


class CustomExpr(nn.Module):
    """examples/custom_expr.kiln: a hand-written linear layer (params w, b),
    BatchNorm1d, a frozen projection, a residual LayerNorm, a frozen scale
    param and an L2 penalty on w in the loss."""
    inputs = {"x": ("f32", (64,))}
    targets = {"y": ("class", 10)}
    frozen = ("scale", "proj.weight", "proj.bias")

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(64, 32))
        self.b = nn.Parameter(torch.empty(32))
        self.scale = nn.Parameter(torch.empty(1))
        self.bn = nn.BatchNorm1d(32, momentum=0.1, eps=1e-5)
        self.proj = nn.Linear(32, 32)
        self.ln = nn.LayerNorm(32, eps=1e-5)
        self.head = nn.Linear(32, 10)  # logits = dense(..., name="head")

    def forward(self, x, y):
        h = x @ self.w + self.b
        bn = self.bn(h)
        proj = self.proj(F.gelu(bn, approximate="tanh"))
        ln = self.ln(proj + h)
        logits = self.head(ln * self.scale)
        return F.cross_entropy(logits, y) + 1e-4 * torch.sum(self.w ** 2)


# name: (module, batch size)
MODELS = {
    "mlp": (MLP, 8),
    "lenet": (LeNet, 8),
    "cifar_cnn": (CifarCNN, 4),
    "conv_mnist": (ConvMNIST, 4),
    "two_layer": (TwoLayer, 8),
    "binary": (Binary, 8),
    "regression": (Regression, 8),
    "custom_expr": (CustomExpr, 8),
}

# name: (the optimizer as kiln's IR holds it, the torch optimizer)
OPTIMIZERS = {
    "sgd": ({"kind": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.0,
             "nesterov": False, "weight_decay": 0.0001},
            lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, dampening=0,
                                       nesterov=False, weight_decay=1e-4)),
    "nesterov": ({"kind": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.0,
                  "nesterov": True, "weight_decay": 0.0},
                 lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, dampening=0,
                                            nesterov=True, weight_decay=0)),
    "adam": ({"kind": "adam", "lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08,
              "weight_decay": 0.0},
             lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                         weight_decay=0)),
    "adamw": ({"kind": "adamw", "lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08,
               "weight_decay": 0.01},
              lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=0.01)),
    # With the rest of the train block: (..., the train-block entries as
    # kiln's IR holds them, the torch scheduler stepped after every step).
    # Gradients are clipped (clip_grad_norm_) before the optimizer step.
    "sgd-cosine-clip": ({"kind": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.0,
                         "nesterov": False, "weight_decay": 0.0},
                        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
                        {"schedule": {"kind": "cosine", "t_max": 4, "min_lr": 0.001},
                         "clip_grad_norm": 0.5},
                        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
                            opt, T_max=4, eta_min=0.001)),
    "adam-step": ({"kind": "adam", "lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08,
                   "weight_decay": 0.0},
                  lambda ps: torch.optim.Adam(ps, lr=1e-3),
                  {"schedule": {"kind": "step", "every": 2, "gamma": 0.5}},
                  lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)),
}

# ---------------------------------------------------------------------------
# Deterministic inputs
# ---------------------------------------------------------------------------


def initialize(model):
    """Parameter `name` of shape S: (2 u_i - 1) * s with u_i =
    uniform01(fnv1a(name), i), s = 1/sqrt(numel/S[0]) for rank >= 2 and 0.5
    for rank 1. Buffers: running_mean zeros, running_var ones."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = p.numel()
            s = 1.0 / math.sqrt(n // p.shape[0]) if p.dim() >= 2 else 0.5
            u = uniform01(fnv1a(name), n)
            p.copy_(torch.from_numpy((2.0 * u - 1.0) * s).reshape(p.shape))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.zero_()
            elif name.endswith("running_var"):
                b.fill_(1.0)


def draw(name, spec, size, step):
    """The batch tensor `name` of step `step`: uniform01(fnv1a("step<k>.<name>"), i)."""
    key = fnv1a(f"step{step}.{name}")
    if spec[0] == "class":
        u = uniform01(key, size)
        return torch.from_numpy(np.floor(u * spec[1]).astype(np.int64))
    shape = (size,) + tuple(spec[1])
    u = uniform01(key, math.prod(shape)).reshape(shape)
    if spec[0] == "ids":
        return torch.from_numpy(np.floor(u * spec[2]).astype(np.int64))
    assert spec[0] == "f32", spec
    return torch.from_numpy(u)


def batch(cls, size, step):
    specs = {**cls.inputs, **cls.targets}
    return {name: draw(name, spec, size, step) for name, spec in specs.items()}

# ---------------------------------------------------------------------------
# safetensors, written and read by hand
# ---------------------------------------------------------------------------


def sample(t):
    """The whole tensor, or [4096] samples at floor(k * numel / 4096)."""
    a = t.detach().cpu().numpy().astype(np.float64)
    if a.size <= SAMPLES:
        return a
    return a.reshape(-1)[(np.arange(SAMPLES, dtype=np.int64) * a.size) // SAMPLES]


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(np.shape(array)),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """(metadata, {name: array}); checks that the tensors tile the payload."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and 8 + n <= len(data), f"{path}: bad header length {n}"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    payload = data[8 + n:]
    tensors, end = {}, 0
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = entry["data_offsets"]
        assert entry["dtype"] == "F64" and begin == end, f"{path}: {name}"
        a = np.frombuffer(payload[begin:stop], dtype="<f8")
        tensors[name] = a.reshape(entry["shape"])
        end = stop
    assert end == len(payload), f"{path}: {len(payload) - end} stray payload bytes"
    return metadata, {name: tensors[name] for name in header}

# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def make(model_name, opt_name):
    cls, size = MODELS[model_name]
    config, make_optimizer, *rest = OPTIMIZERS[opt_name]
    extras, make_scheduler = rest if rest else ({}, None)
    model = cls().double()
    initialize(model)
    frozen = getattr(cls, "frozen", ())
    names = {name for name, _ in model.named_parameters()}
    assert set(frozen) <= names, set(frozen) - names
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]

    model.train()
    RELU_MARGIN[0] = math.inf
    out, losses = {}, []
    for step in range(STEPS):
        for m in dropouts:
            m.seed = step
        optimizer.zero_grad()
        loss = model(**batch(cls, size, step))
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            for name, p in model.named_parameters():
                if p.requires_grad:
                    out["grad." + name] = sample(p.grad)
        if "clip_grad_norm" in extras:
            torch.nn.utils.clip_grad_norm_(trainable, extras["clip_grad_norm"])
        optimizer.step()
        if scheduler:
            scheduler.step()
    # Inference mode on a fresh batch: dropout off, batch norm on the running
    # statistics (kiln's @eval_step).
    model.eval()
    with torch.no_grad():
        eval_loss = model(**batch(cls, size, STEPS)).item()
    out = {"loss": np.array(losses, dtype=np.float64),
           "eval_loss": np.array([eval_loss]), **out}
    for name, t in model.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            out["final." + name] = sample(t)

    metadata = {"model": model_name, "batch": str(size), "steps": str(STEPS),
                "optimizer": json.dumps(config), "sampling": SAMPLING,
                "torch": torch.__version__}
    if extras:
        metadata["train"] = json.dumps(extras)
    if RELU_MARGIN[0] < math.inf:
        metadata["min_relu_input"] = f"{RELU_MARGIN[0]:.3g}"
    path = os.path.join(HERE, f"{model_name}-{opt_name}.safetensors")
    write_safetensors(path, out, metadata)

    # The file round-trips, and the numbers are sane.
    meta, back = read_safetensors(path)
    assert meta == metadata and list(back) == list(out)
    for name, a in out.items():
        assert back[name].shape == np.shape(a) and np.array_equal(back[name], a), name
        assert np.all(np.isfinite(a)), f"{path}: {name} is not finite"
    summarize(os.path.basename(path), meta, back)


def summarize(label, metadata, tensors):
    grads = [np.abs(v).max() for k, v in tensors.items() if k.startswith("grad.")]
    losses = " ".join(f"{v:.6f}" for v in tensors["loss"])
    margin = metadata.get("min_relu_input")
    print(f"{label:32} loss {losses}  max|grad| {max(grads):.3g}"
          + (f"  min|relu input| {margin}" if margin else ""))


def check():
    files = sorted(f for f in os.listdir(HERE) if f.endswith(".safetensors"))
    total = 0
    for f in files:
        path = os.path.join(HERE, f)
        meta, tensors = read_safetensors(path)
        total += os.path.getsize(path)
        print(f"{f}  ({os.path.getsize(path)} bytes)")
        for k, v in meta.items():
            print(f"  meta {k} = {v}")
        for name, a in tensors.items():
            print(f"  {name:40} {list(a.shape)}")
        summarize("  =>", meta, tensors)
    print(f"{len(files)} files, {total} bytes")


def main(argv):
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # fixed reduction order: reproducible files
    if "--check" in argv:
        check()
        return
    models = [a for a in argv if a in MODELS] or list(MODELS)
    optimizers = [a for a in argv if a in OPTIMIZERS] or list(OPTIMIZERS)
    unknown = [a for a in argv if a not in MODELS and a not in OPTIMIZERS]
    if unknown:
        sys.exit(f"unknown model or optimizer: {' '.join(unknown)}")
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    for model_name in models:
        for opt_name in optimizers:
            make(model_name, opt_name)


if __name__ == "__main__":
    main(sys.argv[1:])
