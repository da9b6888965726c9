#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

A few small valid files per reader plus a few corrupt ones; deterministic, so
rerunning it gives the same bytes. corpus/resume/valid_* are training
checkpoints slope wrote (see resume()); the crafted bad_* ones beside them
are derived from them here, each with a valid CRC. Standard library only:

    python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
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


def parse_checkpoint(data):
    """(metadata dict, [(name, dtype code, shape, data bytes)]) of a checkpoint file."""
    assert data[:8] == b"SLOPECKP", "not a checkpoint"
    p, at = data[24:], 0

    def u32():
        nonlocal at
        (v,) = struct.unpack_from("<I", p, at)
        at += 4
        return v

    def text():
        nonlocal at
        n = u32()
        at += n
        return p[at - n:at].decode()

    meta = {}
    for _ in range(u32()):
        k = text()
        meta[k] = text()
    arrays = []
    for _ in range(u32()):
        name = text()
        code, rank = p[at], p[at + 1]
        at += 2
        shape = list(struct.unpack_from("<%dQ" % rank, p, at))
        at += 8 * rank
        count = 1
        for d in shape:
            count *= d
        size = count * {1: 1, 2: 4, 3: 8, 4: 4, 5: 8}[code]
        arrays.append((name, code, shape, p[at:at + size]))
        at += size
    assert at == len(p), "bytes left over"
    return meta, arrays


def resume():
    """Checkpoints with a valid CRC and one wrong content each, built from
    valid_two_layer_adamw: a 2-4-3 net with AdamW on the spiral after epoch 1
    of 1 (3 steps of 256 of the 720 training points), written by
        slope train --data spiral --hidden 4 --center false --epochs 1 --threads 1 --save FILE
    (as are the other valid_* seeds; this script keeps them and never writes them)."""
    with open(os.path.join(ROOT, "resume", "valid_two_layer_adamw"), "rb") as f:
        meta, arrays = parse_checkpoint(f.read())

    def variant(name, meta_changes=None, edit=None):
        m = dict(meta)
        for k, v in (meta_changes or {}).items():
            if v is None:
                m.pop(k)
            else:
                m[k] = v
        a = [list(x) for x in arrays]
        if edit:
            a = edit(a)
        write("resume", name, checkpoint(m, [tuple(x) for x in a]))

    def array(a, name):
        return next(x for x in a if x[0] == name)

    def renamed(old, new):
        def edit(a):
            array(a, old)[0] = new
            return a
        return edit

    def values(name, fmt, change):
        def edit(a):
            x = array(a, name)
            v = list(struct.unpack("<%d%s" % (len(x[3]) // struct.calcsize(fmt), fmt), x[3]))
            v = change(v)
            x[3] = struct.pack("<%d%s" % (len(v), fmt), *v)
            if len(x[2]) == 1:
                x[2] = [len(v)]
            return a
        return edit

    def config(key, line):
        lines = [l for l in meta["config"].splitlines() if not l.startswith(key + "=")]
        return {"config": "\n".join(lines + [line]) + "\n"}

    def set_at(i, value):
        def change(v):
            v[i] = value
            return v
        return change

    # Indices and names: out of range, huge, negative.
    variant("bad_param_name_huge_index", edit=renamed("optim/layers.0.W/m", "optim/layers.18446744073709551615.W/m"))
    variant("bad_model_name_huge_index", edit=renamed("model/layers.0.W", "model/layers.18446744073709551615.W"))
    variant("bad_order_index_out_of_range", edit=values("batches/order", "q", set_at(0, 900)))
    variant("bad_order_index_huge", edit=values("batches/order", "q", set_at(0, 2**63 - 1)))
    variant("bad_order_index_negative", edit=values("batches/order", "q", set_at(3, -1)))
    variant("bad_offset_huge", {"batches/offset": "18446744073709551615"})
    variant("bad_step_huge", {"step": "18446744073709551615"})
    variant("bad_step_over_64_bits", {"step": "18446744073709551616"})
    # (2^64 + 2) / 3 epochs of 3 steps, plus one batch, wrap around to step 3.
    variant("bad_epoch_wraps_to_step", {"batches/epoch": str((2**64 + 2) // 3), "batches/offset": "256"})
    # Counts.
    variant("bad_order_count", edit=values("batches/order", "q", lambda v: v[:-1]))
    variant("bad_weight_count", edit=values("model/layers.0.b", "f", lambda v: v + [0.5]))
    variant("bad_buffer_missing", edit=lambda a: [x for x in a if x[0] != "optim/layers.2.b/v"])

    def reshaped(a):
        array(a, "model/layers.0.W")[2] = [4, 2]
        return a
    variant("bad_weight_shape", edit=reshaped)
    # Non-finite values.
    variant("bad_weight_nan", edit=values("model/layers.2.W", "f", set_at(4, float("nan"))))
    variant("bad_weight_inf", edit=values("model/layers.0.b", "f", set_at(0, float("inf"))))
    variant("bad_buffer_inf", edit=values("optim/layers.0.b/v", "d", set_at(0, float("inf"))))
    # Scalars that do not parse, or parse to what cannot be.
    variant("bad_lr_text", {"optim/scalar/lr": "abc"})
    variant("bad_lr_overflow", {"optim/scalar/lr": "1e999"})
    variant("bad_lr_negative", {"optim/scalar/lr": "-0x1p-8"})
    variant("bad_optimizer_step_fraction", {"optim/scalar/step": "0x1.5p+1"})
    variant("bad_config_lr_inf", config("lr", "lr=inf"))
    variant("bad_config_hidden_huge", config("hidden", "hidden=18446744073709551615"))
    variant("bad_config_epochs_over_64_bits", config("epochs", "epochs=99999999999999999999"))
    variant("bad_rng_state", {"batches/rng": "junk"})
    variant("bad_preprocess_nan", {"preprocess": '{"scale": nan, "mean": []}'})
    variant("bad_kind", {"kind": "slope-model"})
    variant("bad_missing_step", {"step": None})


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
    # Everything this script writes is rewritten; the valid resume seeds,
    # written by slope itself, are kept.
    for d, _, files in os.walk(ROOT):
        for f in files:
            if not (os.path.basename(d) == "resume" and f.startswith("valid_")):
                os.remove(os.path.join(d, f))
    idx_images()
    idx_labels()
    cifar10()
    npy_files()
    checkpoints()
    safetensors_files()
    resume()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    count = sum(len(fs) for _, _, fs in os.walk(ROOT))
    print(f"{count} files, {total} bytes in {ROOT}")


if __name__ == "__main__":
    main()
