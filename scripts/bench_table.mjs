// Turns `duquant bench gemm --json` and `duquant bench e2e --json` outputs into the README's speed tables:
// node scripts/bench_table.mjs gemm.json e2e.json. GEMM: GOP/s per shape and M for ours (W4A4, W4A8, W8A8)
// beside OpenBLAS fp32 and oneDNN s8, with the ratios the issue sets targets for; the online transform's
// shares; end-to-end prefill/decode tokens/s and file sizes.
import { readFileSync } from "node:fs";

// Optional third and fourth files: the same two benches at 1 and N threads (--threads 1,N) for the scaling table.
const [gemmFile, e2eFile, gemmThreadsFile, e2eThreadsFile] = process.argv.slice(2);
if (!gemmFile || !e2eFile) throw new Error("usage: node bench_table.mjs gemm.json e2e.json [gemm-threads.json e2e-threads.json]");
const gemm = JSON.parse(readFileSync(gemmFile, "utf8"));
const e2e = JSON.parse(readFileSync(e2eFile, "utf8"));
const f = (x, d) => (x === undefined || x === null ? "–" : Number(x).toFixed(d));
const lines = [];

const cells = new Map();  // "shape/m" → {impl: gops}
const t0 = gemm.threads ? gemm.threads[0] : 1;  // the table shows the first thread count (1 by default)
for (const r of gemm.gemm) {
  if ((r.threads ?? 1) !== t0) continue;
  const key = `${r.shape}/${r.m}`;
  if (!cells.has(key)) cells.set(key, {});
  cells.get(key)[r.impl] = r.gops;
}
lines.push("| N×K | M | w4a4 | w4a8 | w8a8 | fp32 OpenBLAS | s8 oneDNN | w4a4 / fp32 | w8a8 / fp32 | w4a4 / oneDNN | w8a8 / oneDNN |");
lines.push("|---|---|---|---|---|---|---|---|---|---|---|");
for (const [key, c] of cells) {
  const [shape, m] = key.split("/");
  const ratio = (a, b) => (a && b ? `${f(a / b, 2)}×` : "–");
  lines.push(`| ${shape} | ${m} | ${f(c.w4a4, 0)} | ${f(c.w4a8, 0)} | ${f(c.w8a8, 0)} | ${f(c.f32_openblas, 0)} | ` +
             `${f(c.s8_onednn, 0)} | ${ratio(c.w4a4, c.f32_openblas)} | ${ratio(c.w8a8, c.f32_openblas)} | ` +
             `${ratio(c.w4a4, c.s8_onednn)} | ${ratio(c.w8a8, c.s8_onednn)} |`);
}
lines.push("");
lines.push("<sub>GEMM GOP/s (2·M·N·K / time), one pinned core, medians of interleaved repetitions.</sub>");
lines.push("");
const t = gemm.transform;
if (t) {
  const ms = t.inputs.map((i) => `K = ${i.k}: ${f(i.ms, 2)} ms`).join(", ");
  lines.push(`Online transform + 4-bit quantization of X [${t.m}×K] (b = ${t.block}, int16 rotations; ${ms}) as a share ` +
             `of the W4A4 linear time: o_proj ${f(t.share_o_proj, 1)}%, down_proj ${f(t.share_down_proj, 1)}%, ` +
             `a whole LLaMA-2-7B decoder block's linears ${f(t.share_decoder_block, 1)}%.`);
  lines.push("");
}
const m = e2e.model;
lines.push(`| synthetic LLaMA (${(m.params / 1e9).toFixed(2)}B params, dim ${m.dim}, ${m.layers} layers) | float | W4A4 ${e2e.method} | ratio |`);
lines.push("|---|---|---|---|");
lines.push(`| prefill ${e2e.prefill.tokens} tokens, tokens/s | ${f(e2e.prefill.float_tps, 1)} | ${f(e2e.prefill.w4a4_tps, 1)} | ${f(e2e.prefill.ratio, 2)}× |`);
lines.push(`| decode ${e2e.decode.tokens} tokens after ${e2e.decode.prompt}, tokens/s | ${f(e2e.decode.float_tps, 2)} | ` +
           `${f(e2e.decode.w4a4_tps, 2)} | ${f(e2e.decode.ratio, 2)}× |`);
const fb = e2e.file_bytes;
lines.push(`| file size, MB | ${f(fb.f32_safetensors / 1e6, 1)} (f32 safetensors) | ${f(fb.w4a4_gguf / 1e6, 1)} (.gguf) | ` +
           `${f(fb.ratio, 2)}× smaller |`);
if (gemmThreadsFile && e2eThreadsFile) {
  const gt = JSON.parse(readFileSync(gemmThreadsFile, "utf8"));
  const et = JSON.parse(readFileSync(e2eThreadsFile, "utf8"));
  const top = Math.max(...et.threads);
  const sc = new Map();  // "shape/m" → {impl: ratio}
  for (const r of gt.scaling) {
    const key = `${r.shape}/${r.m}`;
    if (!sc.has(key)) sc.set(key, {});
    sc.get(key)[r.impl] = r.ratio;
  }
  lines.push("");
  lines.push(`Thread scaling, speed at ${top} threads / at 1 (unpinned, wall clock, interleaved repetitions):`);
  lines.push("");
  lines.push("| N×K | M | w4a4 | w8a8 | fp32 OpenBLAS | s8 oneDNN |");
  lines.push("|---|---|---|---|---|---|");
  for (const [key, c] of sc) {
    const [shape, m] = key.split("/");
    const x = (v) => (v === undefined ? "–" : `${f(v, 2)}×`);
    lines.push(`| ${shape} | ${m} | ${x(c.w4a4)} | ${x(c.w8a8)} | ${x(c.f32_openblas)} | ${x(c.s8_onednn)} |`);
  }
  lines.push("");
  const one = et.by_threads.find((b) => b.threads === 1), many = et.by_threads.find((b) => b.threads === top);
  lines.push(`| synthetic LLaMA, ${et.model.layers} layers | 1 thread, tok/s | ${top} threads, tok/s | scaling |`);
  lines.push("|---|---|---|---|");
  for (const [label, key] of [["float prefill", "float_prefill"], ["float decode", "float_decode"],
                              ["W4A4 prefill", "w4a4_prefill"], ["W4A4 decode", "w4a4_decode"]]) {
    lines.push(`| ${label} | ${f(one[key + "_tps"], 2)} | ${f(many[key + "_tps"], 2)} | ${f(many[key + "_scaling"], 2)}× |`);
  }
}
console.log(lines.join("\n"));
