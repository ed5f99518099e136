#!/usr/bin/python3
"""Reference encoder for llama2.c tokenizer files, written from the format description alone
(data/README.md) as the plain quadratic algorithm of llama2.c's run.c, to check ringlm's
C++ tokenizer (tests/app/tokenizer_test.cpp) against something that shares no code with it.

usage: llama2c_tokenizer.py TOKENIZER.bin TEXT_FILE...
Prints, per text file, one line: the ids of its whole content, BOS first, no EOS.
"""
import struct
import sys


def load(path):
    data = open(path, "rb").read()
    offset = 4  # int32 max_token_length: not needed here
    pieces, scores = [], []
    while offset < len(data):
        score, length = struct.unpack_from("<fi", data, offset)
        offset += 8
        pieces.append(data[offset:offset + length])
        scores.append(score)
        offset += length
    return pieces, scores


def encode(pieces, scores, text):
    """text: bytes. Returns the ids with BOS (1) first."""
    id_of = {piece: i for i, piece in enumerate(pieces)}
    tokens = [1]
    if text:
        tokens.append(id_of.get(b" ", ord(" ") + 3))
    # UTF-8 characters: a byte that is not a continuation byte (10xxxxxx) starts one;
    # at most 4 bytes each
    character = b""
    for i, byte in enumerate(text):
        if byte & 0xC0 != 0x80:
            character = b""
        character += bytes([byte])
        next_continues = i + 1 < len(text) and text[i + 1] & 0xC0 == 0x80
        if next_continues and len(character) < 4:
            continue
        if character in id_of:
            tokens.append(id_of[character])
        else:
            tokens.extend(b + 3 for b in character)  # byte fallback: <0xNN> is id NN + 3
        character = b""
    # merge the best-scoring adjacent pair (leftmost on ties) until none merges
    while True:
        best_score, best_index, best_id = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            merged_id = id_of.get(pieces[tokens[i]] + pieces[tokens[i + 1]], -1)
            if merged_id >= 0 and scores[merged_id] > best_score:
                best_score, best_index, best_id = scores[merged_id], i, merged_id
        if best_index < 0:
            return tokens
        tokens[best_index:best_index + 2] = [best_id]


def main():
    pieces, scores = load(sys.argv[1])
    for path in sys.argv[2:]:
        print(" ".join(str(t) for t in encode(pieces, scores, open(path, "rb").read())))


if __name__ == "__main__":
    main()
