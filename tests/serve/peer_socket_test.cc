// find_connection_socket / peer_closed on a real loopback TCP connection: the accepted socket is found by its
// endpoints (not the client's end, whose endpoints are the same two reversed), and a closed peer is noticed.
#include "serve/peer_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace duq::serve {
namespace {

int port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t n = sizeof(a);
  (peer ? getpeername : getsockname)(fd, reinterpret_cast<sockaddr*>(&a), &n);
  return ntohs(a.sin_port);
}

TEST(PeerSocket, FindsTheAcceptedSocketAndSeesThePeerLeave) {
  const int lst = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lst, 1), 0);
  socklen_t n = sizeof(a);
  getsockname(lst, reinterpret_cast<sockaddr*>(&a), &n);
  const int cli = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(cli, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const int srv = accept(lst, nullptr, nullptr);
  ASSERT_GE(srv, 0);

  const int server_port = port_of(srv, false), client_port = port_of(srv, true);
  EXPECT_EQ(find_connection_socket("127.0.0.1", server_port, "127.0.0.1", client_port), srv);
  EXPECT_EQ(find_connection_socket("127.0.0.1", client_port, "127.0.0.1", server_port), cli);
  EXPECT_EQ(find_connection_socket("127.0.0.1", server_port, "127.0.0.1", 1), -1);  // no such peer

  EXPECT_FALSE(peer_closed(srv));
  ASSERT_EQ(write(cli, "x", 1), 1);  // unread data is not a close
  EXPECT_FALSE(peer_closed(srv));
  close(cli);
  EXPECT_TRUE(peer_closed(srv));
  close(srv);
  close(lst);
}

}  // namespace
}  // namespace duq::serve
