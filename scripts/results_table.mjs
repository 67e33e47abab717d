// Turns `duquant compare --json` outputs into one Markdown table: node results_table.mjs a.json [b.json …]
// (or one JSON on stdin). Rows of several runs with the same settings are concatenated (the float row
// once). Rows: method × bits (× seed); columns: perplexity ± s.e., KL divergence to the float model, top-1
// agreement with the float model, calibration seconds, and the method's note (AdaDim's, LWC's or
// duquant-auto's choices).
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
const runs = files.length ? files.map((f) => JSON.parse(readFileSync(f, "utf8"))) : [JSON.parse(readFileSync(0, "utf8"))];
const f = (x, d) => (x === undefined || x === null ? "" : Number(x).toFixed(d));
const lines = [];
lines.push(`| method | bits | seed | perplexity | KLD vs fp | top-1 = fp | calib s | note |`);
lines.push(`|---|---|---|---|---|---|---|---|`);
let fpSeen = false;
for (const j of runs) {
  if (j.scored !== runs[0].scored) throw new Error("results_table: runs scored different token counts");
  for (const r of j.rows) {
    if (r.method === "fp") {
      if (fpSeen) continue;
      fpSeen = true;
    }
    const bits = r.method === "fp" ? "fp32" : `W${r.wbits}A${r.abits}`;
    lines.push(`| ${r.method} | ${bits} | ${r.seed ?? ""} | ${f(r.ppl, 3)} ± ${f(r.ppl_stderr, 3)} | ${f(r.kld, 4)} | ` +
               `${f(100 * r.top1, 1)}% | ${f(r.calib_seconds, 1)} | ${r.note ?? ""} |`);
  }
}
lines.push("");
// The settings line names the default method and bits of the run; the rows carry their own.
const settings = String(runs[0].settings).replace(/^\S+ W\d+A\d+ /, "").replace(/kv \d+, /, "kv = abits, ");
lines.push(`<sub>${runs[0].scored} tokens scored (ctx ${runs[0].ctx}); shared settings: ${settings}</sub>`);
console.log(lines.join("\n"));
