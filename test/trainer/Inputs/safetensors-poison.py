#!/usr/bin/env python3
"""Copies the safetensors file argv[1] to argv[2] with the first element of
the F32 tensor argv[3] set to NaN: a checkpoint a trainer must refuse.

Reads the format directly (8-byte little-endian header length, JSON header,
data), so tests need no torch.
"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    raw = f.read()
(length,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + length])
begin = 8 + length + header[sys.argv[3]]["data_offsets"][0]
data = bytearray(raw)
data[begin:begin + 4] = struct.pack("<f", float("nan"))
with open(sys.argv[2], "wb") as f:
    f.write(bytes(data))
