#!/usr/bin/env python3
# Writes and dumps .safetensors files for kiln-run's lit tests, with only the
# Python standard library (the format: little-endian u64 header length, JSON
# header, raw little-endian data).
#   safetensors.py write OUT NAME=DTYPE:SHAPE:V1,V2,... ...   (SHAPE 2x3, or
#                                 "" for a scalar; one value fills the shape)
#   safetensors.py dump FILE         one line per tensor, sorted by name
#   safetensors.py raw OUT HEXBYTES  arbitrary bytes (corrupt files)
import json
import struct
import sys

FORMATS = {"F32": "f", "F64": "d", "I64": "q"}


def write(out, specs):
    header, data = {}, b""
    for spec in specs:
        name, rest = spec.split("=", 1)
        dtype, shape, values = rest.split(":")
        dims = [int(d) for d in shape.split("x")] if shape else []
        parse = int if dtype == "I64" else float
        vals = [parse(v) for v in values.split(",")] if values else []
        count = 1
        for d in dims:
            count *= d
        if len(vals) == 1:
            vals *= count
        raw = struct.pack("<%d%s" % (len(vals), FORMATS[dtype]), *vals)
        header[name] = {"dtype": dtype, "shape": dims,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def dump(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    for name in sorted(k for k in header if k != "__metadata__"):
        entry = header[name]
        begin, end = entry["data_offsets"]
        fmt = FORMATS[entry["dtype"]]
        count = (end - begin) // struct.calcsize(fmt)
        vals = struct.unpack("<%d%s" % (count, fmt), data[begin:end])
        shape = "x".join(str(d) for d in entry["shape"])
        print("%s %s [%s] %s" % (name, entry["dtype"], shape,
                                 " ".join("%.9g" % v for v in vals)))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        with open(sys.argv[2], "wb") as f:
            f.write(bytes.fromhex(sys.argv[3]))
