#!/bin/sh
# Rebuilds exp.wasm and loops.wasm from the AssemblyScript sources (the .wasm files are committed,
# so time.mjs runs without this). Needs the AssemblyScript compiler, which is not a dependency of
# Kiln: install it anywhere, e.g. `mkdir /tmp/asc && cd /tmp/asc && npm i assemblyscript`, then
#   ASC=/tmp/asc/node_modules/.bin/asc sh bench/assemblyscript-eval/build.sh
# (measured with assemblyscript 0.28.20).
set -e
cd "$(dirname "$0")"
ASC="${ASC:-asc}"
FLAGS="--enable simd -O3 --runtime stub --noAssert"
"$ASC" exp.ts $FLAGS -o exp.wasm
"$ASC" loops.ts $FLAGS -o loops.wasm
