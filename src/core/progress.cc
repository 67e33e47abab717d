#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace duq {

Progress::Progress(std::string what, long total, bool enabled)
    : what_(std::move(what)), total_(total), enabled_(enabled), tty_(::isatty(2) != 0) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (enabled_ && tty_ && !finished_) std::fputc('\n', stderr);
}

void Progress::update(long done, const std::string& extra) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? 0.2 : 5.0)) return;  // finish() always prints the last line
  last_ = now;
  double el = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "%s%s: %ld/%ld (%.1f s)%s%s%s", tty_ ? "\r" : "", what_.c_str(), done, total_, el,
               extra.empty() ? "" : " ", extra.c_str(), tty_ ? "\x1b[K" : "\n");
  std::fflush(stderr);
}

void Progress::finish(const std::string& extra) {
  if (!enabled_ || finished_) return;
  last_ = std::chrono::steady_clock::time_point{};  // force the final line out
  update(total_, extra);
  if (tty_) std::fputc('\n', stderr);
  finished_ = true;
}

}  // namespace duq
