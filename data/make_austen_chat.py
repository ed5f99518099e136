#!/usr/bin/env python3
"""Writes data/austen_chat.jsonl, the chat-format dataset of the chat SFT demo
(jobs/configs/chat_demo.yaml): from paragraphs of Pride and Prejudice (data/austen), a user asks to
continue a passage and the assistant answers with the sentences that follow it; a third of the
conversations start with a system prompt. Deterministic: the same file every run.
    python3 data/make_austen_chat.py [OUTPUT]
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = "You are a novelist who writes in the style of Jane Austen."
ASKS = [
    "Continue this passage from Pride and Prejudice:\n\n{}",
    "How does the story go on after this?\n\n{}",
    "Write the next sentences:\n\n{}",
]


def paragraphs(path):
    with open(path, encoding="utf-8") as file:
        text = file.read()
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split())
        if block:
            yield block


def sentences(paragraph):
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", paragraph) if s]


def main():
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "austen_chat.jsonl")
    records = []
    for paragraph in paragraphs(os.path.join(HERE, "austen", "prideprejudice.txt")):
        parts = sentences(paragraph)
        if len(parts) < 4 or len(paragraph) > 900:
            continue
        cut = len(parts) // 2
        n = len(records)
        messages = []
        if n % 3 == 0:
            messages.append({"role": "system", "content": SYSTEM})
        messages.append({"role": "user", "content": ASKS[n % len(ASKS)].format(" ".join(parts[:cut]))})
        messages.append({"role": "assistant", "content": " ".join(parts[cut:])})
        records.append({"messages": messages})
        if len(records) == 400:
            break
    with open(output, "w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{output}: {len(records)} conversations")


if __name__ == "__main__":
    main()
