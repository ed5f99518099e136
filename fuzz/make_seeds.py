#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ from the project's
test data (configs, tokenizers, prompts) and small hand-made files of each format. Run it
again after changing a format; `make fuzz` reads the seeds from there."""
import json
import os
import shutil
import struct
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "fuzz", "corpus")


def put(target, name, data):
    folder = os.path.join(corpus, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy_configs():
    for folder in ["jobs/configs", "tests/app/configs", "tests/app/bad_configs", "tests/integration/bad_inputs"]:
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if name.endswith(".yaml"):
                shutil.copyfile(os.path.join(root, folder, name), os.path.join(corpus, "yaml_config_fuzz",
                                folder.replace("/", "_") + "_" + name))


def safetensors(entries, data, metadata=True):
    header = {"__metadata__": {"format": "pt"}} if metadata else {}
    header.update(entries)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def llama2c(dim, hidden, layers, heads, kv_heads, vocab, seq_len, tied=True):
    head_dim = dim // heads
    kv_dim = kv_heads * head_dim
    floats = (vocab * dim * (1 if tied else 2) + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim)
              + dim + seq_len * head_dim)
    header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if tied else -vocab, seq_len)
    return header + struct.pack(f"<{floats}f", *[0.01 * (i % 97) for i in range(floats)])


def llama2c_tokenizer(extra):
    pieces = [("<unk>", 0.0), ("\n<s>\n", 0.0), ("\n</s>\n", 0.0)]
    pieces += [(f"<0x{b:02X}>", 0.0) for b in range(256)] + extra
    out = struct.pack("<i", max(len(p.encode()) for p, _ in pieces))
    for piece, score in pieces:
        out += struct.pack("<fi", score, len(piece.encode())) + piece.encode()
    return out


def main():
    # Overwrites its own seeds; leaves the regression_* inputs (crashes found and fixed) alone.
    os.makedirs(os.path.join(corpus, "yaml_config_fuzz"), exist_ok=True)
    copy_configs()

    f32 = struct.pack("<6f", *range(6))
    put("safetensors_fuzz", "two_tensors", safetensors(
        {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
         "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]}}, f32))
    put("safetensors_fuzz", "empty", safetensors({}, b"", metadata=False))
    put("safetensors_fuzz", "f16_scalar", safetensors({"s": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]}},
                                                      b"\x00\x3c"))
    # 2^64 - 2 twice: as int64 each is -2, and -2 x -2 x 1 byte = the 4 bytes of data_offsets
    put("safetensors_fuzz", "negative_dims", safetensors(
        {"a": {"dtype": "U8", "shape": [18446744073709551614, 18446744073709551614], "data_offsets": [0, 4]}}, b"abcd"))
    put("safetensors_fuzz", "huge_offsets", safetensors(
        {"a": {"dtype": "U8", "shape": [18446744073709551615], "data_offsets": [0, 18446744073709551615]}}, b""))

    put("llama2c_checkpoint_fuzz", "tiny_tied", llama2c(4, 8, 1, 2, 1, 3, 2))
    put("llama2c_checkpoint_fuzz", "tiny_untied", llama2c(4, 4, 2, 2, 2, 2, 1, tied=False))
    put("llama2c_checkpoint_fuzz", "header_only", struct.pack("<7i", 288, 768, 6, 6, 6, -32000, 256))

    put("tokenizer_file_fuzz", "merges", llama2c_tokenizer([(" ", -1.0), ("a", -2.0), (" a", 5.0), ("aa", 3.0),
                                                            ("\u2581", 1.0), ("\U0001F600", 0.0)]))
    put("tokenizer_file_fuzz", "bytes_only", llama2c_tokenizer([]))
    shutil.copyfile(os.path.join(root, "data/stories260K/tok512.bin"),
                    os.path.join(corpus, "tokenizer_file_fuzz", "tok512.bin"))

    with open(os.path.join(root, "data/austen/emma.txt"), "rb") as f:
        emma = f.read(3000)[1000:1400]
    for selector in range(3):
        put("tokenizer_text_fuzz", f"emma_{selector}", bytes([selector]) + emma)
        put("tokenizer_text_fuzz", f"utf8_{selector}", bytes([selector]) + " héllo — ☃ 😀 \xff\xfe".encode("utf-8", "surrogateescape"))

    with open(os.path.join(root, "data/grpo_prompts.jsonl"), "rb") as f:
        prompts = f.read()
    put("prompts_jsonl_fuzz", "grpo_prompts", b"\x7f" + prompts)
    put("prompts_jsonl_fuzz", "answers", b"\xff" + b'{"prompt": "2+2=", "answer": "4"}\n\n{"prompt": "x", "answer": 1}\n')

    put("prepare_jsonl_fuzz", "mixed", b"\x00" + b'{"text": "Once upon a time"}\n{"input_ids": [1, 5, 258], '
        b'"labels": [-100, 5, 258]}\n\n{"input_ids": [3, 4]}\n{"text": "  "}\n')
    put("prepare_jsonl_fuzz", "number_overflow", b"\x00" + b'{"input_ids": [1e999]}\n{"text": "a", "x": -1e400}\n')
    put("prepare_jsonl_fuzz", "bad", b"\x10" + b'{"input_ids": [1, 300], "labels": [1]}\n[1,2]\n{"text": 5}\n')

    put("reward_output_fuzz", "two", b"\x02" + b"1.5\n-2e3 \n")
    put("reward_output_fuzz", "bad", b"\x03" + b"1\nnan\n0x1p3\n")

    # token_file_fuzz reads its input through FuzzedDataProvider: any bytes describe a file.
    for i, seed in enumerate([b"\x00" * 64, bytes(range(256)), b"\x05\x03\x00" + b"\x10\x02" * 80]):
        put("token_file_fuzz", f"bytes_{i}", seed)


if __name__ == "__main__":
    sys.exit(main())
