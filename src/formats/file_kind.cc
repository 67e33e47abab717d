#include "formats/file_kind.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "core/file_checks.h"

namespace duq::formats {

FileKind sniff_model_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)  // a name too long or a symlink loop: let the open say so
    return errno == ENOENT ? FileKind::Missing : FileKind::NotRegular;
  if (S_ISDIR(st.st_mode)) return FileKind::HfDir;
  if (!S_ISREG(st.st_mode)) return FileKind::NotRegular;
  const int fd = open_regular_file(path, "model");
  // The GGUF metadata comes first; the duquant keys sit among the first few KB of it.
  std::string head(64 * 1024, '\0');
  const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  if (head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0)
    return std::string_view(head).find("duquant.format_version") != std::string_view::npos ? FileKind::GgufDuquant
                                                                                           : FileKind::GgufFloat;
  if (head.size() >= 9 && head[8] == '{') return FileKind::Safetensors;
  return FileKind::Llama2c;
}

const char* file_kind_name(FileKind k) {
  switch (k) {
    case FileKind::Missing: return "missing";
    case FileKind::NotRegular: return "not-regular";
    case FileKind::HfDir: return "hf-dir";
    case FileKind::GgufDuquant: return "gguf-duquant";
    case FileKind::GgufFloat: return "gguf-float";
    case FileKind::Safetensors: return "safetensors";
    case FileKind::Llama2c: return "llama2c";
  }
  return "?";
}

}  // namespace duq::formats
