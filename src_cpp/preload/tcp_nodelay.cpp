// Copyright 2026 picam_ros maintainers
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// TCP_NODELAY for every TCP socket of a process this library is preloaded into (LD_PRELOAD).
//
// Why: the stream's encoder is ffmpeg publishing over RTSP/TCP (interleaved RTP) to MediaMTX.
// ffmpeg's RTSP muxer opens its TCP connection without TCP_NODELAY, and no option reaches that
// connection (`-tcp_nodelay` applies to a tcp:// URL, not to the muxer's own connection). With
// Nagle's algorithm on, the tail of a frame (a segment smaller than the MSS) waits until the
// previous segment is acknowledged, and the server acknowledges late (Linux's delayed ACK, up
// to 40 ms). Measured in the browser: about 15% of frames arrived 40-50 ms late, the WebRTC
// jitter buffer grew to cover them, and glass-to-glass latency rose by a frame or two.
// A real-time stream wants every packet sent when it is written; this restores that.
//
// Invariants: the wrapped socket() behaves exactly like libc's (same return value and errno);
// the option is set only on TCP sockets (AF_INET/AF_INET6, SOCK_STREAM, TCP or default protocol), and a failure to set it is
// ignored (the socket stays as libc made it). Nothing else of the process is touched.

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace {

using SocketFn = int (*)(int, int, int);

SocketFn real_socket() {
  // Resolved on each call, not cached in a static: socket() is rare (a few per encoder
  // start) and a lookup keeps this free of initialisation-order and thread-safety concerns.
  return reinterpret_cast<SocketFn>(dlsym(RTLD_NEXT, "socket"));
}

bool is_tcp(int domain, int type, int protocol) {
  const int base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  return (domain == AF_INET || domain == AF_INET6) && base_type == SOCK_STREAM &&
         (protocol == 0 || protocol == IPPROTO_TCP);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int socket(int domain, int type, int protocol) {
  const SocketFn next = real_socket();
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const int fd = next(domain, type, protocol);
  if (fd >= 0 && is_tcp(domain, type, protocol)) {
    const int saved_errno = errno;
    const int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    errno = saved_errno;
  }
  return fd;
}
