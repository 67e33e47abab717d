#!/usr/bin/env bash
# Side by side with llama.cpp: a synthetic TinyLlama-1.1B-shaped model (dim 2048, hidden 5632, 22 layers,
# 32 heads / 4 KV heads, vocab 32000) as llama.cpp F32 / F16 / Q8_0 / Q4_0 GGUF (llama-bench -p 512 -n 64)
# beside `duquant bench e2e --wall` (float engine and W4A4 integer engine, the same shape), at 1 thread and
# at all threads, interleaved round by round so both see the same stretches of a shared machine.
#
# The GGUF files: `duquant convert` writes Hugging Face safetensors only (no GGUF in llama.cpp's layout), so
# this script writes a llama2.c checkpoint of the shape (random weights; the speed does not depend on their
# values) and a 32000-token llama2.c vocabulary with python3, converts them with llama.cpp's
# llama-convert-llama2c-to-ggml (F32 GGUF) and llama-quantize (F16, Q8_0, Q4_0). duquant's bench uses its own
# synthetic weights of the same shape.
#
# Skips (exit 0, with a message) when the llama.cpp tools are absent: $LLAMACPP_DIR, else
# ../shared/peers/llama.cpp next to the repository. Never needed by the build or the tests.
# Usage: scripts/bench_peers.sh            (ROUNDS=3, THREADS="1 <all>", LAYERS=22; ~30–60 min at full size)
#        LAYERS=2 ROUNDS=1 scripts/bench_peers.sh   (a quick smoke run)
# Writes results/peers/{llama,duquant}-r<round>-t<threads>.json and prints a summary table (medians).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS="${LLAMACPP_DIR:-$ROOT/../shared/peers/llama.cpp}"
for tool in llama-bench llama-quantize llama-convert-llama2c-to-ggml; do
  if [ ! -x "$PEERS/$tool" ]; then
    echo "bench_peers: $PEERS/$tool not found (set LLAMACPP_DIR to llama.cpp's tools); skipping"
    exit 0
  fi
done
DUQ="${DUQ_BIN:-build/duquant}"
[ -x "$DUQ" ] || bash scripts/build.sh --target duquant >/dev/null
ROUNDS="${ROUNDS:-3}"
LAYERS="${LAYERS:-22}"
ALL="$("$DUQ" ppl --help | sed -n 's/.*physical cores this process may use, \([0-9]*\) here.*/\1/p' | head -1)"
ALL="${ALL:-$(nproc)}"
THREADS="${THREADS:-1 $ALL}"
[ "$THREADS" = "1 1" ] && THREADS=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/duquant-peers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
OUT=results/peers
mkdir -p "$OUT"

echo "bench_peers: writing a TinyLlama-shaped llama2.c checkpoint ($LAYERS layers) in $WORK"
python3 - "$WORK" "$LAYERS" <<'EOF'
import os, random, struct, sys
work, layers = sys.argv[1], int(sys.argv[2])
dim, hidden, heads, kv, vocab, seq = 2048, 5632, 32, 4, 32000, 2048
hd = dim // heads
rng = random.Random(1)
block = struct.pack("<%df" % (1 << 18), *[rng.gauss(0.0, 0.02) for _ in range(1 << 18)])  # 1 MiB, tiled
def floats(f, n):
    b = 4 * n
    while b >= len(block):
        f.write(block); b -= len(block)
    f.write(block[:b])
with open(os.path.join(work, "model.bin"), "wb") as f:
    f.write(struct.pack("<7i", dim, hidden, layers, heads, kv, -vocab, seq))  # negative vocab: own classifier
    floats(f, vocab * dim)                      # token embedding
    floats(f, layers * dim)                     # attention norms
    floats(f, layers * dim * dim)               # wq
    floats(f, 2 * layers * dim * kv * hd)       # wk, wv
    floats(f, layers * dim * dim)               # wo
    floats(f, layers * dim)                     # ffn norms
    floats(f, 3 * layers * dim * hidden)        # w1, w2, w3
    floats(f, dim)                              # final norm
    floats(f, seq * hd)                         # freq_cis real + imaginary (unused)
    floats(f, vocab * dim)                      # classifier
with open(os.path.join(work, "tok.bin"), "wb") as f:
    toks = [b"<unk>", b"<s>", b"</s>"] + [("<0x%02X>" % i).encode() for i in range(256)]
    toks += [("t%d" % i).encode() for i in range(vocab - len(toks))]
    f.write(struct.pack("<i", max(len(t) for t in toks)))
    for i, t in enumerate(toks):
        f.write(struct.pack("<fi", float(-i), len(t)) + t)
EOF
"$PEERS/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$WORK/tok.bin" --llama2c-model "$WORK/model.bin" \
  --llama2c-output-model "$WORK/f32.gguf" >"$WORK/convert.log" 2>&1 || { tail -5 "$WORK/convert.log"; exit 1; }
rm -f "$WORK/model.bin"
for q in F16 Q8_0 Q4_0; do
  "$PEERS/llama-quantize" "$WORK/f32.gguf" "$WORK/$q.gguf" "$q" >"$WORK/quantize-$q.log" 2>&1 ||
    { tail -5 "$WORK/quantize-$q.log"; exit 1; }
done
MODELS="$WORK/Q4_0.gguf,$WORK/Q8_0.gguf,$WORK/F16.gguf,$WORK/f32.gguf"

for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    echo "bench_peers: round $r/$ROUNDS, $t thread(s): llama-bench"
    "$PEERS/llama-bench" -m "$MODELS" -p 512 -n 64 -t "$t" -r 1 -o json >"$OUT/llama-r$r-t$t.json" 2>"$WORK/llama.log"
    echo "bench_peers: round $r/$ROUNDS, $t thread(s): duquant bench e2e"
    "$DUQ" bench e2e --wall --json --layers "$LAYERS" --threads "$t" >"$OUT/duquant-r$r-t$t.json" 2>"$WORK/duq.log"
  done
done
echo "uptime: $(uptime)"

# Summary: medians over the rounds, tokens/s, per thread count.
python3 - "$OUT" "$ROUNDS" "$THREADS" <<'EOF'
import json, statistics, sys
out, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def med(v): return statistics.median(v) if v else float("nan")
print("%-8s %-22s %12s %12s" % ("threads", "engine", "prefill t/s", "decode t/s"))
for t in threads:
    rows = {}
    for r in range(1, rounds + 1):
        for e in json.load(open("%s/llama-r%d-t%s.json" % (out, r, t))):
            name = "llama.cpp " + e["model_type"].replace("(guessed)", "").split()[-1]  # Q4_0, F32, ...
            key = "prefill" if e["n_prompt"] > 0 else "decode"
            rows.setdefault(name, {}).setdefault(key, []).append(e["avg_ts"])
        d = json.load(open("%s/duquant-r%d-t%s.json" % (out, r, t)))
        for name, p, g in (("duquant float", d["prefill"]["float_tps"], d["decode"]["float_tps"]),
                           ("duquant W4A4", d["prefill"]["w4a4_tps"], d["decode"]["w4a4_tps"])):
            rows.setdefault(name, {}).setdefault("prefill", []).append(p)
            rows[name].setdefault("decode", []).append(g)
    for name, v in rows.items():
        print("%-8s %-22s %12.2f %12.2f" % (t, name, med(v.get("prefill", [])), med(v.get("decode", []))))
EOF
