// The file-system rules every command follows (README "Hostile input"):
//  - inputs are regular files (or a model directory): a FIFO, a device such as /dev/zero or a directory
//    given where a file belongs is refused before anything is read — opening never blocks;
//  - an output is never an input of the same command (compared by device + inode after resolving
//    symlinks), never a non-regular file (/dev/null, a terminal behind /proc/self/fd/1, a directory), and
//    an existing regular file is replaced only when the user said --force;
//  - outputs are checked before the work starts (an hour of calibration is never lost to a bad --out).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace duq {

// Opens `path` read-only (O_NONBLOCK, so a FIFO cannot block) and returns the descriptor; throws
// duq::Error "PATH: WHAT is a directory / a FIFO / a device, not a regular file" or the open error.
int open_regular_file(const std::string& path, const std::string& what);
// The same check without keeping the file open.
void require_regular_file(const std::string& path, const std::string& what);
// The whole file (a regular file, at most `max_bytes`); throws naming `what` otherwise.
std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes = 1ull << 36);

// Where an output file will be written: `out` with symlinks resolved. Throws (naming `flag`) when `out` is
// empty, names or resolves to one of `inputs` (each a file or a directory, whose files count too), is not a
// regular file, exists without `force`, or its folder does not exist or cannot be written.
std::filesystem::path check_output_file(const std::string& out, const std::string& flag, bool force,
                                        const std::vector<std::string>& inputs);
// The same for a directory output (built beside and swapped in, core/atomic_file.h StagedDir): `out` must
// not be or contain an input; an existing non-empty directory needs `force` and must hold model files only.
std::filesystem::path check_output_dir(const std::string& out, const std::string& flag, bool force,
                                       const std::vector<std::string>& inputs);

}  // namespace duq
