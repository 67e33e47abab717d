#include "serve/peer_socket.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>

namespace duq::serve {

namespace {

using GetName = int (*)(int, sockaddr*, socklen_t*);

// The socket's address by get (getsockname / getpeername) equals addr:port.
bool endpoint_is(int fd, GetName get, const std::string& addr, int port) {
  sockaddr_storage sa{};
  socklen_t len = sizeof(sa);
  if (get(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return false;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&sa), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  return addr == host && std::to_string(port) == serv;
}

}  // namespace

int find_connection_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                           int remote_port) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = e.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    if (endpoint_is(fd, getpeername, remote_addr, remote_port) && endpoint_is(fd, getsockname, local_addr, local_port))
      return fd;
  }
  return -1;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace duq::serve
