// WeightSource over a llama2.c checkpoint (memory-mapped; a block is copied out only when asked for).
#pragma once
#include <memory>
#include <string>

#include "model/weights.h"

namespace duq::model {

std::unique_ptr<WeightSource> open_llama2c_weights(const std::string& path);

}  // namespace duq::model
