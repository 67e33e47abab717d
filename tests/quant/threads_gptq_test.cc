// GPTQ with its work split over the threads (Hessian Gram products and the lazy updates by 4-row-aligned
// ranges, the Cholesky panels and trailing blocks, the column sweep by weight rows) gives the same codes
// and grids at 1, 2 and 3 threads; so do the Hessian-weighted output error (per-row sums added in row order)
// and AdaDim's choice built on both. Shapes with O not a multiple of 4 or of the thread count, row groups
// (dynamic grids), act_order, and column groups (the serial sweep). The one-thread result is checked against
// an invariant: GPTQ's output error H-weighted is not worse than round-to-nearest's.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "quant/adadim.h"
#include "quant/gptq.h"
#include "test_support.h"
#include "threads_scope.h"

namespace duq::quant {
namespace {

using test::kThreadCounts;
using test::ThreadsScope;

bool same(const QuantizedMat& a, const QuantizedMat& b) {
  if (a.codes != b.codes || a.params.size() != b.params.size()) return false;
  for (size_t i = 0; i < a.params.size(); ++i)
    if (std::memcmp(&a.params[i].scale, &b.params[i].scale, sizeof(float)) != 0 || a.params[i].zero != b.params[i].zero)
      return false;
  return true;
}

TEST(ThreadsGptq, SameCodesAtEveryThreadCount) {
  const int64_t O = 203, D = 300;  // O odd (not a multiple of 4), D spans 3 blocks of 128
  const Mat w = test::random_normal_mat(O, D, 1, 0.05);
  Mat x = test::random_normal_mat(700, D, 2);  // 700 rows: three 256-row Gram chunks
  for (int64_t t = 0; t < x.rows(); ++t) x(t, (t * 7) % D) *= 10.f;
  struct Case {
    const char* name;
    int64_t group;
    Axis axis;
    bool act_order;
  };
  for (const Case cs : {Case{"rows", 0, Axis::kRow, false}, Case{"row groups 64", 64, Axis::kRow, false},
                        Case{"act_order", 0, Axis::kRow, true}, Case{"act_order groups", 64, Axis::kRow, true},
                        Case{"column groups", 0, Axis::kColumn, false}}) {
    QuantSpec spec;
    spec.bits = 4;
    spec.group_size = cs.group;
    spec.axis = cs.axis;
    GptqOptions go;
    go.act_order = cs.act_order;
    Hessian h1(D);
    QuantizedMat want;
    double err1 = 0;
    {
      ThreadsScope one(1);
      h1.add(x);
      want = gptq_quantize(w, h1, spec, go);
      Mat dq(O, D), dr(O, D);
      dequantize(want, dq);
      dequantize(quantize(w, spec), dr);
      err1 = h1.output_error(w, dq);
      EXPECT_LT(err1, h1.output_error(w, dr)) << cs.name;  // GPTQ beats RTN on its own objective
    }
    for (int t : kThreadCounts) {
      ThreadsScope threads(t);
      Hessian h(D);
      h.add(x);
      ASSERT_EQ(std::memcmp(h.data().data(), h1.data().data(), sizeof(double) * h1.data().size()), 0)
          << cs.name << " Hessian, threads " << t;
      const QuantizedMat got = gptq_quantize(w, h, spec, go);
      EXPECT_TRUE(same(got, want)) << cs.name << ", threads " << t;
      Mat dq(O, D);
      dequantize(got, dq);
      const double e = h.output_error(w, dq);
      EXPECT_EQ(std::memcmp(&e, &err1, sizeof e), 0) << cs.name << " output error, threads " << t;
    }
  }
}

TEST(ThreadsGptq, AdaDimSameChoiceAtEveryThreadCount) {
  const int64_t O = 97, D = 160;
  const Mat w = test::random_normal_mat(O, D, 3, 0.05);
  const Mat x = test::random_normal_mat(300, D, 4);
  QuantSpec spec;
  spec.bits = 3;
  spec.group_size = 32;
  AdaDimResult want;
  {
    ThreadsScope one(1);
    Hessian h(D);
    h.add(x);
    want = adadim_quantize(w, h, spec, true, GptqOptions{}, nullptr);
  }
  for (int t : kThreadCounts) {
    ThreadsScope threads(t);
    Hessian h(D);
    h.add(x);
    const AdaDimResult got = adadim_quantize(w, h, spec, true, GptqOptions{}, nullptr);
    EXPECT_TRUE(same(got.q, want.q)) << t;
    EXPECT_EQ(got.error_oc, want.error_oc) << t;
    EXPECT_EQ(got.error_ic, want.error_ic) << t;
  }
}

}  // namespace
}  // namespace duq::quant
