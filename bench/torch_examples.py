#!/usr/bin/env python3
"""PyTorch peers of the example models that ../shared/bench/torch_peers.py
does not cover (conv_mnist, two_layer, binary, regression, custom_expr).

Each model, loss and optimizer mirrors examples/<name>.kiln; the timing
protocol is torch_peers.py's: warm-up steps, then steps timed in groups of
10, median per step. One line per model in torch_peers.py's format.
Usage: torch_examples.py --models conv_mnist,two_layer --batches 128 --threads 2
"""
import argparse, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F


class ConvMnist(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.dropout(x, 0.25, self.training).flatten(1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, self.training))


class CustomExpr(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(nn.init.xavier_uniform_(torch.empty(64, 32)))
        self.b = nn.Parameter(torch.zeros(32))
        self.bn, self.proj = nn.BatchNorm1d(32), nn.Linear(32, 32)
        self.ln, self.head = nn.LayerNorm(32), nn.Linear(32, 10)
        for p in self.proj.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        h = x @ self.w + self.b
        p = self.proj(F.gelu(self.bn(h), approximate="tanh"))
        return self.head(self.ln(p + h))


def mlp(*sizes, out):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], out))


# name: (model, input shape, loss(out, y, model), target maker, optimizer)
MODELS = {
    "conv_mnist": (ConvMnist, (1, 28, 28),
                   lambda o, y, m: F.cross_entropy(o, y), "class",
                   lambda p: torch.optim.Adam(p, lr=1e-3)),
    "two_layer": (lambda: nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(),
                                        nn.Linear(16, 1)), (8,),
                  lambda o, y, m: F.mse_loss(o, y), "value",
                  lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    "binary": (lambda: mlp(30, 32, 16, out=1), (30,),
               lambda o, y, m: F.binary_cross_entropy_with_logits(o, y),
               "binary",
               lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-4)),
    "regression": (lambda: mlp(13, 64, 64, out=1), (13,),
                   lambda o, y, m: F.mse_loss(o, y), "value",
                   lambda p: torch.optim.AdamW(p, lr=3e-3, weight_decay=1e-2)),
    "custom_expr": (CustomExpr, (64,),
                    lambda o, y, m: F.cross_entropy(o, y)
                    + 1e-4 * (m.w ** 2).sum(), "class",
                    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9,
                                              nesterov=True,
                                              weight_decay=5e-4)),
}


def bench(name, batch, steps, warmup):
    ctor, shape, loss_fn, target, make_opt = MODELS[name]
    torch.manual_seed(0)
    model = ctor()
    opt = make_opt([p for p in model.parameters() if p.requires_grad])
    xs = [torch.randn(batch, *shape) for _ in range(4)]
    if target == "class":
        ys = [torch.randint(0, 10, (batch,)) for _ in range(4)]
    elif target == "binary":
        ys = [torch.randint(0, 2, (batch, 1)).float() for _ in range(4)]
    else:
        ys = [torch.randn(batch, 1) for _ in range(4)]

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y, model)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(xs[i % 4], ys[i % 4])
    times = []
    for r in range(steps // 10):
        t0 = time.perf_counter()
        for i in range(10):
            step(xs[i % 4], ys[i % 4])
        times.append((time.perf_counter() - t0) / 10 * 1e6)
    med = statistics.median(times)
    print(f"{name:10s} batch={batch:5d} mode={'eager':19s} median_us={med:10.1f} "
          f"min_us={min(times):10.1f} samples_per_s={batch / med * 1e6:12.0f}",
          flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default="32")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for m in a.models.split(","):
        for b in map(int, a.batches.split(",")):
            bench(m, b, a.steps, a.warmup)
