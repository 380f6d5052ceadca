#!/usr/bin/env python3
"""Prints each tensor of a safetensors file as `name DTYPE [d0, d1]`, sorted.

Reads the format's JSON header directly (8-byte little-endian length, then
JSON), so tests can check what a trainer wrote without torch.
"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (length,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(length))
for name in sorted(k for k in header if k != "__metadata__"):
    entry = header[name]
    shape = ", ".join(str(d) for d in entry["shape"])
    print(f"{name} {entry['dtype']} [{shape}]")
