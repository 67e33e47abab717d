#!/usr/bin/env node
// Independent check of a GGUF file: parses FILE with @huggingface/gguf (Hugging Face's reader, no duquant
// code involved) and prints what it found as JSON on stdout:
//   { version, tensor_count, kv_count, alignment, tensor_data_offset, file_size,
//     metadata: { key: { type, sub_type?, value } },           // GGUF value type codes
//     tensors: [ { name, n_dims, shape, dtype, offset, nbytes, data_hex? } ],
//     problems: [ "..." ] }
// 64-bit integers (uint64/int64 values, shapes, offsets) are printed as decimal strings so that no
// precision is lost; non-finite floats as "NaN", "Infinity", "-Infinity".
// Tensor bytes are located from the spec alone (data section start + offset, size from the element type)
// and printed as hex when at most 4096 bytes; `problems` lists spec violations found on the way
// (misaligned offsets, data past the end of the file, overlapping tensors, unknown tensor types).
// Exit status: 0 parsed, 1 the parser rejected the file, 2 usage.
import { gguf } from "@huggingface/gguf";
import { openSync, readSync, fstatSync, closeSync } from "node:fs";
import { resolve } from "node:path";

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error("usage: node check.mjs FILE.gguf");
  process.exit(2);
}

// Bytes per element of the plain ggml types (ggml.h: GGML_TYPE_F32 = 0, F16 = 1, I8 = 24, I16 = 25,
// I32 = 26, I64 = 27, F64 = 28, BF16 = 30), and [values, bytes] per block of the block types duquant
// writes (Q8_0 = 8: an f16 scale + 32 int8 per 32 values, per the GGUF spec; the row length, shape[0],
// must be a multiple of the block).
const ELEM_BYTES = { 0: 4, 1: 2, 24: 1, 25: 2, 26: 4, 27: 8, 28: 8, 30: 2 };
const BLOCK = { 8: [32n, 34n] };
const HEX_LIMIT = 4096;

function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

let parsed;
try {
  parsed = await gguf(resolve(file), { allowLocalFile: true, typedMetadata: true });
} catch (e) {
  console.error(`gguf-check: ${file}: ${e.message}`);
  process.exit(1);
}
const { typedMetadata, tensorInfos, tensorDataOffset } = parsed;

const out = {
  version: typedMetadata.version.value,
  tensor_count: plain(typedMetadata.tensor_count.value),
  kv_count: plain(typedMetadata.kv_count.value),
  alignment: 32,
  tensor_data_offset: plain(tensorDataOffset),
  file_size: 0,
  metadata: {},
  tensors: [],
  problems: [],
};
for (const [key, entry] of Object.entries(typedMetadata)) {
  if (key === "version" || key === "tensor_count" || key === "kv_count") continue;  // header fields
  const m = { type: entry.type, value: plain(entry.value) };
  if (entry.subType !== undefined) m.sub_type = entry.subType;
  out.metadata[key] = m;
}
if (out.metadata["general.alignment"]) out.alignment = Number(out.metadata["general.alignment"].value);

const fd = openSync(file, "r");
const size = BigInt(fstatSync(fd).size);
out.file_size = size.toString();
const spans = [];
for (const t of tensorInfos) {
  const info = {
    name: t.name,
    n_dims: t.n_dims,
    shape: t.shape.map(String),
    dtype: t.dtype,
    offset: t.offset.toString(),
  };
  const elem = ELEM_BYTES[t.dtype];
  const block = BLOCK[t.dtype];
  const numel = t.shape.reduce((a, b) => a * b, 1n);
  if (elem === undefined && block === undefined) {
    out.problems.push(`tensor ${t.name}: ggml type ${t.dtype} is not a plain element type or Q8_0`);
  } else if (block !== undefined && BigInt(t.shape[0]) % block[0] !== 0n) {
    out.problems.push(`tensor ${t.name}: row length ${t.shape[0]} is not a multiple of the block size ${block[0]}`);
  } else {
    const nbytes = block !== undefined ? (numel / block[0]) * block[1] : numel * BigInt(elem);
    info.nbytes = nbytes.toString();
    const begin = tensorDataOffset + t.offset;
    if (t.offset % BigInt(out.alignment) !== 0n)
      out.problems.push(`tensor ${t.name}: offset ${t.offset} is not a multiple of ${out.alignment}`);
    if (begin + nbytes > size) {
      out.problems.push(`tensor ${t.name}: data [${begin}, ${begin + nbytes}) runs past the end (${size})`);
    } else {
      spans.push([t.offset, t.offset + nbytes, t.name]);
      if (nbytes <= BigInt(HEX_LIMIT)) {
        const buf = Buffer.alloc(Number(nbytes));
        if (nbytes > 0n) readSync(fd, buf, 0, buf.length, Number(begin));
        info.data_hex = buf.toString("hex");
      }
    }
  }
  out.tensors.push(info);
}
closeSync(fd);
spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
for (let i = 1; i < spans.length; ++i)
  if (spans[i][0] < spans[i - 1][1] && spans[i][1] > spans[i][0])
    out.problems.push(`tensor ${spans[i][2]} overlaps tensor ${spans[i - 1][2]}`);

console.log(JSON.stringify(out, null, 1));
