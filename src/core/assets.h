// Where the bundled assets live: $DUQUANT_ASSETS if set, else the repository's own assets/ (NOTICE.md there).
#pragma once
#include <filesystem>

namespace duq {
std::filesystem::path assets_dir();
}
