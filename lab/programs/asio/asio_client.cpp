/* SPDX-License-Identifier: BSD-2-Clause */
// Seed 001: how a Boost.Asio + OpenSSL client ends a TLS connection, and
// what Asio reports.  One connection per run.
//
// usage: asio_client MODE HOST PORT KEYLOG
//   shutdown          write a request, then async_shutdown() (the server,
//                     openssl s_server, answers close_notify)
//   truncated         write, then read until the server ends: a server that
//                     closes TCP without close_notify gives stream_truncated
//   pending_read      an async_read_some() is pending when async_shutdown()
//                     is called (the seed's second case)
//   cancel_then_shutdown  the seed's fix: cancel the pending read, and call
//                     async_shutdown() from its operation_aborted handler
// Prints "asio: <operation>: <category>:<value> <message>" lines.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdio>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

static FILE *keylog;
static void keylog_cb(const SSL *, const char *line) {
  if (keylog) {
    fprintf(keylog, "%s\n", line);
    fflush(keylog);
  }
}

static void report(const char *op, const boost::system::error_code &ec) {
  std::cout << "asio: " << op << ": " << ec.category().name() << ":" << ec.value() << " "
            << (ec ? ec.message() : std::string("success")) << std::endl;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    std::cerr << "usage: asio_client MODE HOST PORT KEYLOG\n";
    return 2;
  }
  std::string mode = argv[1];
  keylog = fopen(argv[4], "a");
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_keylog_callback(ctx.native_handle(), keylog_cb);
  asio::ssl::stream<tcp::socket> s(io, ctx);
  tcp::resolver r(io);
  asio::connect(s.lowest_layer(), r.resolve(argv[2], argv[3]));
  s.handshake(asio::ssl::stream_base::client);
  std::string req = "GET / HTTP/1.0\r\n\r\n";
  asio::write(s, asio::buffer(req));
  char buf[4096];
  if (mode == "shutdown") {
    s.async_shutdown([](const boost::system::error_code &e) { report("async_shutdown", e); });
    io.run();
  } else if (mode == "truncated") {
    std::function<void(const boost::system::error_code &, size_t)> on_read;
    on_read = [&](const boost::system::error_code &ec, size_t n) {
      if (!ec) {
        std::cout << "asio: read " << n << " bytes" << std::endl;
        s.async_read_some(asio::buffer(buf), on_read);
        return;
      }
      report("async_read_some", ec);
      s.async_shutdown([](const boost::system::error_code &e) { report("async_shutdown", e); });
    };
    s.async_read_some(asio::buffer(buf), on_read);
    io.run();
  } else if (mode == "pending_read" || mode == "cancel_then_shutdown") {
    // The server (openssl s_server) sends nothing: the read stays pending.
    asio::steady_timer t(io, std::chrono::milliseconds(300));
    s.async_read_some(asio::buffer(buf), [&](const boost::system::error_code &ec, size_t) {
      report("async_read_some", ec);
      if (mode == "cancel_then_shutdown")
        s.async_shutdown([](const boost::system::error_code &e) { report("async_shutdown", e); });
    });
    t.async_wait([&](const boost::system::error_code &) {
      if (mode == "pending_read")
        s.async_shutdown([](const boost::system::error_code &e) { report("async_shutdown", e); });
      else
        s.lowest_layer().cancel();
    });
    io.run();
  }
  s.lowest_layer().close();
  std::cout << "asio: socket closed" << std::endl;
  return 0;
}
