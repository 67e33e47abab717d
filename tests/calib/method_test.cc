// The strategy table (calib/method.h): every --method name parses to its transform × rounding pair and
// prints back as itself, no two names share a pair, the named constants are the table's pairs, and an
// unknown name is a clear error listing the choices.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "calib/method.h"
#include "calib/options.h"
#include "core/error.h"

namespace duq::calib {
namespace {

TEST(MethodTable, NamesRoundTripAndPairsAreDistinct) {
  std::set<std::pair<int, int>> pairs;
  for (const MethodSpec& s : method_table()) {
    EXPECT_EQ(parse_method(s.name), s.method) << s.name;
    EXPECT_EQ(method_name(s.method), s.name);
    EXPECT_TRUE(pairs.insert({static_cast<int>(s.method.transform), static_cast<int>(s.method.rounding)}).second)
        << s.name;
  }
  EXPECT_EQ(method_names().size(), method_table().size());
}

TEST(MethodTable, CliNamesAreTheirPairs) {
  EXPECT_EQ(parse_method("duquant+gptq"), (Method{Transform::DuQuant, Rounding::Gptq}));
  EXPECT_EQ(parse_method("rotation+gptq"), (Method{Transform::Rotation, Rounding::Gptq}));
  EXPECT_EQ(parse_method("adadim+gptq"), (Method{Transform::None, Rounding::AdaDimGptq}));
  EXPECT_EQ(parse_method("smoothquant"), (Method{Transform::Smooth, Rounding::Rtn}));
  EXPECT_EQ(parse_method("duquant-auto"), Method::DuQuantAuto);
  EXPECT_EQ(parse_method("fp"), Method::Fp);
}

TEST(MethodTable, DefaultsComeFromTheTable) {
  QuantOptions o;
  for (Method m : {Method::SmoothQuant, Method::DuQuantLwc, Method::DuQuantLearn}) {
    o.method = m;
    EXPECT_EQ(o.smoothing_alpha(), 0.5f) << method_name(m);
  }
  for (Method m : {Method::DuQuant, Method::DuQuantGptq, Method::DuQuantAuto}) {
    o.method = m;
    EXPECT_EQ(o.smoothing_alpha(), 0.6f) << method_name(m);
  }
  o.method = Method::RotationGptq;
  EXPECT_TRUE(o.quarot_weight_grid());
  o.method = Method::DuQuantGptq;
  EXPECT_FALSE(o.quarot_weight_grid());
}

TEST(MethodTable, UnknownNameListsTheChoices) {
  try {
    parse_method("duquant+magic");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown method 'duquant+magic'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("duquant+learn"), std::string::npos) << msg;
  }
  EXPECT_THROW(method_spec(Method{Transform::Smooth, Rounding::Lwc}), Error);
}

}  // namespace
}  // namespace duq::calib
