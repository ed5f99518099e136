// The independent reference for src/data/hf_tokenizer.h: Hugging Face's own JavaScript
// implementation (@huggingface/tokenizers, pinned in scripts/fetch_test_tokenizers.sh).
//   node hf_tokenizer_reference.mjs TOKENIZERS_JS_DIR MODEL_DIR encode TEXTS_FILE
//       TEXTS_FILE holds texts separated by NUL bytes; one line per text: its ids, with the
//       special tokens the post-processor adds
//   node hf_tokenizer_reference.mjs TOKENIZERS_JS_DIR MODEL_DIR bench TEXTS_FILE
//       one line: bytes, seconds, MB/s of encoding every text once (after one warm-up pass)
// Each text's bytes are decoded as UTF-8 with U+FFFD for invalid bytes (TextDecoder, WHATWG),
// the string a JavaScript caller holds; ringlm's encode repairs invalid UTF-8 the same way.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [tokenizersDir, modelDir, mode, textsFile] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(join(tokenizersDir, "dist", "tokenizers.mjs")).href);
const tokenizerJson = JSON.parse(readFileSync(join(modelDir, "tokenizer.json"), "utf8"));
const configPath = join(modelDir, "tokenizer_config.json");
const tokenizerConfig = existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {};
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const buffer = readFileSync(textsFile);
const pieces = [];
for (let start = 0; start <= buffer.length; ) {
  let end = buffer.indexOf(0, start);
  if (end < 0) end = buffer.length;
  pieces.push(buffer.subarray(start, end));
  start = end + 1;
}
const texts = pieces.map((piece) => decoder.decode(piece));

if (mode === "encode") {
  const lines = texts.map((text) => tokenizer.encode(text, { add_special_tokens: true }).ids.join(" "));
  process.stdout.write(lines.join("\n") + "\n");
} else if (mode === "bench") {
  const bytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
  for (const text of texts) tokenizer.encode(text, { add_special_tokens: true });
  const start = process.hrtime.bigint();
  for (const text of texts) tokenizer.encode(text, { add_special_tokens: true });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(`${bytes} ${seconds.toFixed(3)} ${(bytes / 1e6 / seconds).toFixed(2)}\n`);
} else {
  throw new Error(`mode ${mode}: expected encode or bench`);
}
