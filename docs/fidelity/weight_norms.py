#!/usr/bin/env python3
"""Prints the Frobenius norm of every tensor in one or more dasvdd-rs model files (safetensors,
read by hand: an 8-byte little-endian header length, a JSON header, then the raw f32 data), and
the model's gamma from the file's metadata (docs/fidelity.md, section "Where the centre is").
Usage: weight_norms.py MODEL.safetensors..."""
import array
import json
import math
import struct
import sys


def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(raw[8 + n + start:8 + n + end])
        if sys.byteorder != "little":
            values.byteswap()
        out[name] = (info["shape"], values)
    return out, meta


def main():
    for path in sys.argv[1:]:
        t, meta = tensors(path)
        print(f"{path}: gamma {meta.get('gamma')}")
        for name in sorted(t):
            shape, v = t[name]
            print(f"  {name:28} {str(shape):14} {math.sqrt(sum(x * x for x in v)):.4g}")


if __name__ == "__main__":
    main()
