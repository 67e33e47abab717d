// Turns `duquant compare --json` output into a Markdown table (stdin → stdout).
// Rows: method × bits (× seed); columns: perplexity ± s.e., KL divergence to the float model, top-1
// agreement with the float model, calibration seconds.
import { readFileSync } from "node:fs";

const j = JSON.parse(readFileSync(0, "utf8"));
const f = (x, d) => (x === undefined || x === null ? "" : Number(x).toFixed(d));
const lines = [];
lines.push(`| method | bits | seed | perplexity | KLD vs fp | top-1 = fp | calib s |`);
lines.push(`|---|---|---|---|---|---|---|`);
for (const r of j.rows) {
  const bits = r.method === "fp" ? "fp32" : `W${r.wbits}A${r.abits}`;
  lines.push(`| ${r.method} | ${bits} | ${r.seed ?? ""} | ${f(r.ppl, 3)} ± ${f(r.ppl_stderr, 3)} | ${f(r.kld, 4)} | ` +
             `${f(100 * r.top1, 1)}% | ${f(r.calib_seconds, 1)} |`);
}
lines.push("");
// The settings line names the default method and bits of the run; the rows carry their own.
const settings = String(j.settings).replace(/^\S+ W\d+A\d+ /, "").replace(/kv \d+, /, "kv = abits, ");
lines.push(`<sub>${j.scored} tokens scored (ctx ${j.ctx}); shared settings: ${settings}</sub>`);
console.log(lines.join("\n"));
