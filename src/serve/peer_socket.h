// Watching a request's TCP connection while its reply is computed. cpp-httplib 0.11 gives a handler the
// connection's addresses but not its socket, and its non-streaming handlers write nothing until they return,
// so a client that leaves is otherwise only noticed after the whole generation.
#pragma once
#include <string>

namespace duq::serve {

// This process's socket connected from remote_addr:remote_port to local_addr:local_port (numeric addresses as
// getnameinfo(NI_NUMERICHOST) writes them), found through /proc/self/fd; -1 when there is none (or no /proc).
// The connection is unique by its two endpoints, so the socket found is the request's own while it is open.
int find_connection_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                           int remote_port);

// True when the peer of connected socket fd has closed or reset the connection (poll: POLLRDHUP, POLLHUP or
// POLLERR, without waiting). A client that only shuts down its sending side also counts as gone.
bool peer_closed(int fd);

}  // namespace duq::serve
