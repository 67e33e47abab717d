// Progress on long work: one line on stderr rewritten in place (carriage return) when stderr is a
// terminal, a line every few seconds otherwise (logs stay readable), never on stdout.
#pragma once
#include <chrono>
#include <string>

namespace duq {

class Progress {
 public:
  Progress(std::string what, long total, bool enabled = true);
  ~Progress();
  void update(long done, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  std::string what_;
  long total_;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Wall-clock seconds since construction.
class Timer {
 public:
  Timer() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace duq
