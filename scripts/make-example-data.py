#!/usr/bin/env python3
"""Writes small synthetic datasets for the example models that do not train
on Fashion-MNIST, under data/ (the paths their train blocks name):

  data/two_layer.csv            8 features -> a smooth target (regression)
  data/regression.csv           13 features -> a noisy nonlinear target
  data/binary.csv, binary_test.csv
                                30 features -> 0/1 from a noisy linear rule
  data/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz
                                8x8 images in 10 classes (custom_expr)
  data/cifar-10-batches-bin/    CIFAR-10 binary format, 3x32x32 in 10
                                classes (cifar_cnn; the real CIFAR-10 cannot
                                be downloaded on machines without network)

Every set is a fixed function of the seed, so runs are reproducible, and
each has learnable structure, so training visibly reduces the loss. Plain
Python, no packages. Usage: python3 scripts/make-example-data.py [DIR]
"""
import gzip, math, os, random, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else "data"
rng = random.Random(2026)


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")


def two_layer(n):
    w = [rng.uniform(-1, 1) for _ in range(8)]
    for _ in range(n):
        x = [rng.uniform(-2, 2) for _ in range(8)]
        y = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))
        yield x + [y + rng.gauss(0, 0.01)]


def regression(n):
    w = [rng.uniform(-1, 1) for _ in range(13)]
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(13)]
        y = sum(a * b for a, b in zip(w, x)) + 0.5 * math.sin(3 * x[0]) \
            + 0.3 * x[1] * x[2]
        yield x + [y + rng.gauss(0, 0.1)]


binary_w = [rng.gauss(0, 1) for _ in range(30)]


def binary(n):
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(30)]
        score = sum(a * b for a, b in zip(binary_w, x)) + rng.gauss(0, 1)
        yield x + [1 if score > 0 else 0]


def class_images(n, size, channels, prototypes):
    """n images of channels x size x size: a class prototype plus noise."""
    for _ in range(n):
        label = rng.randrange(10)
        proto = prototypes[label]
        pixels = bytes(max(0, min(255, int(p + rng.gauss(0, 40)))) for p in proto)
        yield label, pixels


def prototypes(size, channels):
    protos = []
    for c in range(10):
        fx, fy = 1 + c % 4, 1 + c // 4
        phase = rng.uniform(0, math.pi)
        protos.append([
            128 + 100 * math.sin(fx * x * math.pi / size + phase + ch)
            * math.cos(fy * y * math.pi / size)
            for ch in range(channels) for y in range(size) for x in range(size)])
    return protos


def write_idx(prefix, samples, size):
    labels = bytes(l for l, _ in samples)
    images = b"".join(p for _, p in samples)
    with gzip.open(f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(samples), size, size) + images)
    with gzip.open(f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(samples)) + labels)


def main():
    os.makedirs(out, exist_ok=True)
    write_csv(f"{out}/two_layer.csv", [f"x{i}" for i in range(8)] + ["y"],
              two_layer(2000))
    write_csv(f"{out}/regression.csv", [f"x{i}" for i in range(13)] + ["y"],
              regression(2000))
    header = [f"x{i}" for i in range(30)] + ["label"]
    write_csv(f"{out}/binary.csv", header, binary(2000))
    write_csv(f"{out}/binary_test.csv", header, binary(500))
    write_idx(f"{out}/train", list(class_images(6000, 8, 1, prototypes(8, 1))), 8)
    cifar = f"{out}/cifar-10-batches-bin"
    os.makedirs(cifar, exist_ok=True)
    protos = prototypes(32, 3)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(f"{cifar}/{name}.bin", "wb") as f:
            for label, pixels in class_images(1000, 32, 3, protos):
                f.write(bytes([label]) + pixels)
    print(f"wrote synthetic example data under {out}/")


main()
