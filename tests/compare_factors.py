"""W.npy and H.npy of two output folders, the same to a relative tolerance (the largest
difference over the largest entry), for the command's tests.

Usage: compare_factors.py EXPECTED_DIR GOT_DIR TOLERANCE
"""
import struct
import sys


def load(path):  # a float .npy (version 1): the header, then the values
    data = open(path, "rb").read()
    header_len = struct.unpack("<H", data[8:10])[0]
    code = "d" if "<f8" in data[10:10 + header_len].decode() else "f"
    values = data[10 + header_len:]
    return struct.unpack("<%d%s" % (len(values) // struct.calcsize(code), code), values)


expected, got, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
for f in ("W.npy", "H.npy"):
    a, b = load(expected + "/" + f), load(got + "/" + f)
    if len(a) != len(b):
        sys.exit("FAIL: %s/%s has %d entries, %s/%s %d" % (got, f, len(b), expected, f, len(a)))
    diff = max(abs(x - y) for x, y in zip(a, b)) / max(abs(x) for x in a)
    if diff > tolerance:
        sys.exit("FAIL: %s/%s differs from %s/%s by %.2g" % (got, f, expected, f, diff))
    print("%s/%s within %.2g of %s/%s" % (got, f, diff, expected, f))
