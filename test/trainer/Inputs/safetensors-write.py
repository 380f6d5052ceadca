#!/usr/bin/env python3
"""Writes the safetensors file argv[1] from arguments NAME=DTYPE:SHAPE:VALUES,
e.g. ids=I64:2x3:0,1,2,3,4,5 or w=F32:4x2:0.5 (one value fills the tensor)
and step=F32::0 (a scalar). Writes the format directly (8-byte little-endian
header length, JSON header, data), so tests need no torch.
"""
import json
import math
import struct
import sys

header, data = {}, b""
for arg in sys.argv[2:]:
    name, spec = arg.split("=", 1)
    dtype, shape, values = spec.split(":")
    shape = [int(d) for d in shape.split("x")] if shape else []
    count = math.prod(shape)
    values = values.split(",")
    if len(values) == 1:
        values *= count
    assert len(values) == count, f"{name}: {len(values)} values for {shape}"
    code = {"F32": "f", "I64": "q"}[dtype]
    cast = float if dtype == "F32" else int
    blob = struct.pack("<" + code * count, *(cast(v) for v in values))
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [len(data), len(data) + len(blob)]}
    data += blob
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
