#!/usr/bin/env python3
"""Prints each F32 tensor of a safetensors file that holds a NaN or an
infinity as `name: N non-finite`, then `non-finite tensors: K`.

Reads the format directly (8-byte little-endian header length, JSON header,
data), so tests can check what a trainer wrote without torch.
"""
import json
import math
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (length,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(length))
    data = f.read()
bad = 0
for name in sorted(k for k in header if k != "__metadata__"):
    entry = header[name]
    if entry["dtype"] != "F32":
        continue
    begin, end = entry["data_offsets"]
    values = struct.unpack(f"<{(end - begin) // 4}f", data[begin:end])
    count = sum(1 for v in values if not math.isfinite(v))
    if count:
        bad += 1
        print(f"{name}: {count} non-finite")
print(f"non-finite tensors: {bad}")
