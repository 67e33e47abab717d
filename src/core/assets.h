// Where the bundled assets live: $DUQUANT_ASSETS if set, else ../shared/assets next to the source tree.
#pragma once
#include <filesystem>

namespace duq {
std::filesystem::path assets_dir();
}
