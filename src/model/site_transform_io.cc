// One linear input's online transform in the quantized-model file (docs/quantized-format.md, "blk.{l}.{site}").
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "model/quant_model_io.h"

namespace duq::model::quant_io {

using formats::GgmlType;

void write_site_transform(formats::GgufWriter& w, Owned& own, const std::string& base, const OnlineTransform& t) {
  w.add_kv("duquant." + base + ".kind", static_cast<uint32_t>(t.kind));
  if (!t.smooth.empty()) add_vec(w, base + ".smooth", t.smooth.data(), t.smooth.size());
  w.add_kv("duquant." + base + ".has_smooth", !t.smooth.empty());
  if (t.kind == OnlineTransform::Kind::DuQuant) {
    w.add_kv("duquant." + base + ".rotations", static_cast<uint32_t>(t.rotations.size()));
    std::vector<uint32_t> blocks, per_block;
    for (size_t i = 0; i < t.rotations.size(); ++i) {
      const auto& r = t.rotations[i];
      blocks.push_back(static_cast<uint32_t>(r.block));
      per_block.push_back(!r.per_block.empty());
      if (r.per_block.empty()) {
        add_mat(w, base + ".rot" + std::to_string(i), r.full);
      } else {  // R̂_1 … R̂_K stacked: [K·b × b], kept in `own` until the write (the writer references it)
        auto& bytes =
            own.bytes.emplace_back(r.per_block.size() * static_cast<size_t>(r.block * r.block) * sizeof(float));
        for (size_t k = 0; k < r.per_block.size(); ++k)
          std::memcpy(bytes.data() + k * static_cast<size_t>(r.block * r.block) * sizeof(float), r.per_block[k].data(),
                      static_cast<size_t>(r.block * r.block) * sizeof(float));
        w.add_tensor(base + ".rot" + std::to_string(i), GgmlType::F32,
                     {static_cast<uint64_t>(r.block),
                      static_cast<uint64_t>(r.per_block.size()) * static_cast<uint64_t>(r.block)},
                     bytes);
      }
      if (r.tail.size()) add_mat(w, base + ".rot" + std::to_string(i) + "t", r.tail);
    }
    w.add_kv("duquant." + base + ".blocks", blocks);
    if (std::find(per_block.begin(), per_block.end(), 1u) != per_block.end())
      w.add_kv("duquant." + base + ".per_block", per_block);
    for (size_t i = 0; i < t.perms.size(); ++i)
      w.add_tensor(base + ".perm" + std::to_string(i), GgmlType::I32, {t.perms[i].size()},
                   bytes_of(t.perms[i].data(), t.perms[i].size()));
  } else if (t.kind == OnlineTransform::Kind::Hadamard) {
    w.add_kv("duquant." + base + ".hadamard_seed", t.hadamard_seed);
  }
  if (t.act_clip > 0.f) w.add_kv("duquant." + base + ".act_clip", t.act_clip);
  if (!t.choice.empty()) w.add_kv("duquant." + base + ".choice", t.choice);
  if (!t.wide.empty())
    w.add_tensor(base + ".wide", GgmlType::I32, {t.wide.size()}, bytes_of(t.wide.data(), t.wide.size()));
}

OnlineTransform read_site_transform(const formats::GgufFile& f, const std::string& base, int64_t width, uint32_t ver) {
  OnlineTransform t;
  const int64_t D = width;
  const uint32_t kind = f.get<uint32_t>("duquant." + base + ".kind");
  if (kind > 2) fail(f.path(), ": ", base, " has unknown transform kind ", kind);
  t.kind = static_cast<OnlineTransform::Kind>(kind);
  if (f.get<bool>("duquant." + base + ".has_smooth")) {
    t.smooth = read_fvec(f, base + ".smooth", D);
    for (float x : t.smooth)
      if (!(x > 0)) fail(f.path(), ": ", base, ".smooth holds a non-positive factor");
  }
  if (t.kind == OnlineTransform::Kind::DuQuant) {
    const auto& blocks = f.get_array<uint32_t>("duquant." + base + ".blocks");
    const uint32_t nrot = f.get<uint32_t>("duquant." + base + ".rotations");
    if (nrot == 0 || blocks.size() != nrot) fail(f.path(), ": ", base, ": inconsistent rotation count");
    std::vector<uint32_t> per_block(nrot, 0);
    if (f.has("duquant." + base + ".per_block")) {
      if (ver < 3) fail(f.path(), ": ", base, ": per-block rotations need format version 3 (file says ", ver, ")");
      per_block = f.get_array<uint32_t>("duquant." + base + ".per_block");
      if (per_block.size() != nrot)
        fail(f.path(), ": ", base, ": per_block has ", per_block.size(), " flags for ", nrot, " rotations");
    }
    for (uint32_t i = 0; i < nrot; ++i) {
      BlockRotationData r;
      r.block = blocks[i];
      if (r.block < 1 || r.block > D) fail(f.path(), ": ", base, ": rotation block ", r.block, " outside 1..", D);
      const std::string rn = base + ".rot" + std::to_string(i);
      if (per_block[i] > 1) fail(f.path(), ": ", base, ": per_block flag ", per_block[i], " is not 0 or 1");
      if (per_block[i]) {
        const int64_t k = D / r.block;
        const Mat stacked = read_mat(f, rn, k * r.block, r.block);
        for (int64_t b = 0; b < k; ++b) {
          Mat m(r.block, r.block);
          std::copy(stacked.data() + b * r.block * r.block, stacked.data() + (b + 1) * r.block * r.block, m.data());
          r.per_block.push_back(std::move(m));
        }
      } else {
        r.full = read_mat(f, rn, r.block, r.block);
      }
      if (D % r.block) r.tail = read_mat(f, rn + "t", D % r.block, D % r.block);
      t.rotations.push_back(std::move(r));
    }
    for (uint32_t i = 0; i + 1 < nrot; ++i) {
      auto p = read_ivec(f, base + ".perm" + std::to_string(i), D);
      std::vector<char> seen(static_cast<size_t>(D), 0);
      for (int32_t j : p) {
        if (j < 0 || j >= D || seen[static_cast<size_t>(j)])
          fail(f.path(), ": ", base, ".perm", i, " is not a permutation of 0..", D - 1);
        seen[static_cast<size_t>(j)] = 1;
      }
      t.perms.push_back(std::move(p));
    }
  } else if (t.kind == OnlineTransform::Kind::Hadamard) {
    if (ver < 3)
      fail(f.path(), ": ", base, " uses the randomized Hadamard of format version ", ver,
           " (signs after the mixing, H·diag(s)), which this build no longer rebuilds; quantize the model again");
    t.hadamard_seed = f.get<uint64_t>("duquant." + base + ".hadamard_seed");
  }
  t.act_clip = f.get_or<float>("duquant." + base + ".act_clip", 0.f);
  if (f.has("duquant." + base + ".act_clip")) check_clip(f.path(), base + ".act_clip", t.act_clip);
  if (f.has("duquant." + base + ".choice")) t.choice = f.get<std::string>("duquant." + base + ".choice");
  if (const auto* wt = f.find_tensor(base + ".wide")) {
    if (ver < kQuantFormatVersionWide)
      fail(f.path(), ": ", base, ": wide channels need format version ", kQuantFormatVersionWide, " (file says ", ver,
           ")");
    if (wt->dims.size() != 1 || wt->dims[0] < 1 || wt->dims[0] >= static_cast<uint64_t>(D))
      fail(f.path(), ": ", base, ".wide must list between 1 and ", D - 1, " channels");
    t.wide = read_ivec(f, base + ".wide", static_cast<int64_t>(wt->dims[0]));
    for (size_t i = 0; i < t.wide.size(); ++i)
      if (t.wide[i] < 0 || t.wide[i] >= D || (i > 0 && t.wide[i] <= t.wide[i - 1]))
        fail(f.path(), ": ", base, ".wide is not a sorted list of distinct channels in 0..", D - 1);
  }
  return t;
}

}  // namespace duq::model::quant_io
