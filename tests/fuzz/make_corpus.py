#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

A few small valid files per reader plus a few corrupt ones; deterministic, so
rerunning it gives the same bytes. Standard library only:

    python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "corpus")


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_images():
    px = bytes((7 * i) % 256 for i in range(2 * 3 * 4))
    ok = idx(8, [2, 3, 4], px)
    write("idx_images", "valid_2x3x4", ok)
    write("idx_images", "valid_1x1x1", idx(8, [1, 1, 1], b"\x80"))
    write("idx_images", "valid_2x3x4.gz", gz(ok))
    write("idx_images", "bad_truncated", ok[:-5])
    write("idx_images", "bad_trailing", ok + b"\x00")
    write("idx_images", "bad_rank", idx(8, [2, 3], px[:6]))
    write("idx_images", "bad_type", idx(0x0D, [1, 1, 1], b"\x00\x00\x00\x00"))
    write("idx_images", "bad_zero_dim", idx(8, [0, 3, 4], b""))
    write("idx_images", "bad_huge_dims", idx(8, [0xFFFFFFFF, 4096, 4096], b""))
    write("idx_images", "bad_gz_truncated", gz(ok)[:-6])


def idx_labels():
    ok = idx(8, [6], bytes([0, 1, 2, 9, 5, 3]))
    write("idx_labels", "valid_6", ok)
    write("idx_labels", "valid_6.gz", gz(ok))
    write("idx_labels", "bad_label_10", idx(8, [3], bytes([1, 10, 2])))
    write("idx_labels", "bad_truncated", ok[:-2])
    write("idx_labels", "bad_trailing", ok + b"\x01")
    write("idx_labels", "bad_magic", b"\x01\x00\x08\x01" + ok[4:])
    write("idx_labels", "bad_gz_trailing", gz(ok) + b"\x1f\x8b")


def cifar10():
    rec = bytes([3]) + bytes((i * 13) % 256 for i in range(3072))
    write("cifar10", "valid_1_record", rec)
    write("cifar10", "bad_label_10", bytes([10]) + rec[1:])
    write("cifar10", "bad_short", rec[:100])
    write("cifar10", "bad_empty", b"")


def npy(descr, shape, payload, major=1, fortran="False", raw_dict=None):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    text = raw_dict or "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    pre = 10 if major == 1 else 12
    text += " " * ((64 - (pre + len(text) + 1) % 64) % 64) + "\n"
    hlen = struct.pack("<H", len(text)) if major == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + hlen + text.encode() + payload


def npy_files():
    write("npy", "valid_f4_2x3", npy("<f4", [2, 3], struct.pack("<6f", 1, -2, 0.5, 3, 4, 5)))
    write("npy", "valid_f8_scalar", npy("<f8", [], struct.pack("<d", 3.25)))
    write("npy", "valid_i4_3", npy("<i4", [3], struct.pack("<3i", -1, 0, 7)))
    write("npy", "valid_i8_1x1x2", npy("<i8", [1, 1, 2], struct.pack("<2q", 1, -1)))
    write("npy", "valid_u1_0x4", npy("|u1", [0, 4], b""))
    write("npy", "valid_v2_u1_4", npy("|u1", [4], b"\x01\x02\x03\x04", major=2))
    write("npy", "bad_big_endian", npy(">f4", [1], b"\x00\x00\x80\x3f"))
    write("npy", "bad_fortran_2d", npy("<f4", [1, 1], b"\x00\x00\x80\x3f", fortran="True"))
    write("npy", "bad_truncated", npy("<f8", [2], struct.pack("<d", 1.0)))
    write("npy", "bad_dict", npy("", [], b"", raw_dict="{'descr': '<f4', 'shape': (1,, }"))


def checkpoint(meta, arrays):
    p = struct.pack("<I", len(meta))
    for k, v in sorted(meta.items()):
        p += struct.pack("<I", len(k)) + k.encode() + struct.pack("<I", len(v)) + v.encode()
    p += struct.pack("<I", len(arrays))
    for name, code, shape, data in sorted(arrays):
        p += struct.pack("<I", len(name)) + name.encode() + bytes([code, len(shape)])
        p += b"".join(struct.pack("<Q", d) for d in shape) + data
    return b"SLOPECKP" + struct.pack("<IIQ", 1, zlib.crc32(p), len(p)) + p


def checkpoints():
    ok = checkpoint({"epoch": "3", "optimizer": "adam"},
                    [("W", 4, [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                     ("b", 5, [2], struct.pack("<2d", 0.5, -0.5)),
                     ("order", 3, [3], struct.pack("<3q", 2, 0, 1)),
                     ("step", 2, [], struct.pack("<i", 7)),
                     ("mask", 1, [0], b"")])
    write("checkpoint", "valid_mixed", ok)
    write("checkpoint", "valid_empty", checkpoint({}, []))
    write("checkpoint", "valid_meta_only", checkpoint({"k": "v"}, []))
    bad_crc = bytearray(ok)
    bad_crc[-1] ^= 0xFF
    write("checkpoint", "bad_crc", bytes(bad_crc))
    write("checkpoint", "bad_truncated", ok[:-3])
    write("checkpoint", "bad_version", ok[:8] + struct.pack("<I", 2) + ok[12:])
    write("checkpoint", "bad_dtype", checkpoint({}, [("x", 9, [1], b"\x00")]))
    write("checkpoint", "bad_rank", checkpoint({}, [("x", 1, [1] * 9, b"\x00")]))


def safetensors(tensors, metadata=None, order=None):
    """tensors: (name, dtype, shape, data) tuples; laid out in `order` (default by name)."""
    header, offset, blob = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in sorted(tensors, key=order or (lambda t: t[0])):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def raw_safetensors(text, data=b""):
    return struct.pack("<Q", len(text)) + text + data


def safetensors_files():
    mixed = [("W", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
             ("b", "F64", [2], struct.pack("<2d", 0.5, -0.5)),
             ("order", "I64", [3], struct.pack("<3q", 2, 0, 1)),
             ("step", "I32", [], struct.pack("<i", 7)),
             ("mask", "U8", [0, 3], b""),
             ("img", "U8", [1, 2, 2], bytes([0, 255, 17, 42]))]
    ok = safetensors(mixed, {"format": "pt", "note": "caf\u00e9 \\ \"q\"\n"})
    write("safetensors", "valid_mixed", ok)
    write("safetensors", "valid_empty", safetensors([]))
    write("safetensors", "valid_meta_only", safetensors([], {"k": "v"}))
    # As the reference writer lays data out: largest element size first, then by name.
    size = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "U8": 1}
    write("safetensors", "valid_by_alignment", safetensors(mixed, order=lambda t: (-size[t[1]], t[0])))
    write("safetensors", "valid_pretty_escaped", raw_safetensors(
        b'{\n  "\\u00e9\\ud83d\\ude00" : {"shape": [1], "dtype": "U8", "data_offsets": [0, 1]}\n}', b"\x2a"))
    write("safetensors", "bad_truncated", ok[:-3])
    write("safetensors", "bad_trailing", ok + b"\x00")
    write("safetensors", "bad_length", b"\xff" * 8 + ok[8:])
    write("safetensors", "bad_dtype_f16", safetensors([("h", "F16", [2], b"\x00\x3c\x00\x3c")]))
    write("safetensors", "bad_rank", safetensors([("x", "U8", [1] * 9, b"\x01")]))
    write("safetensors", "bad_overlap", raw_safetensors(
        b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}',
        b"\x01\x02\x03"))
    write("safetensors", "bad_utf8", raw_safetensors(b'{"\xc0\xaf":{}}'))
    write("safetensors", "bad_huge_dims", safetensors(
        [("x", "F64", [2147483648, 2147483648, 2147483648], b"")]))


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    idx_images()
    idx_labels()
    cifar10()
    npy_files()
    checkpoints()
    safetensors_files()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    count = sum(len(fs) for _, _, fs in os.walk(ROOT))
    print(f"{count} files, {total} bytes in {ROOT}")


if __name__ == "__main__":
    main()
