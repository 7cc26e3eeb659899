/* libportpool-adopt.so: the LD_PRELOAD library of `portpool run --adopt` (docs/cli.md).
 *
 * `portpool run` holds the listening TCP socket of a pool port and passes it to CMD as the
 * descriptor $PORTPOOL_ADOPT_FD. When the program binds a TCP socket (IPv4 or IPv6, any address) to
 * one of the port numbers of $PORTPOOL_ADOPT_PORTS (comma-separated), bind() makes that socket a
 * descriptor of the held one instead (dup3 on the program's descriptor number) and returns 0: the
 * program listens and accepts on the pool port, and getsockname() reports it. Every other bind is
 * the real one. The library writes nothing and allocates nothing; bind() may be called from any
 * thread. */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*bind_function)(int, const struct sockaddr*, socklen_t);

enum { port_count = 65536, bits_per_word = 64 };

/* Set once (pthread_once), read-only afterwards. */
static uint64_t adopted_ports[port_count / bits_per_word];
static int held_descriptor = -1;
static bind_function next_bind;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

/* The number at `text` (decimal, at most `maximum`); `end` is set past it. -1 when there is none or
 * it is too large. */
static long parse_number(const char* text, long maximum, const char** end) {
  long value = 0;
  const char* digit = text;
  for (; *digit >= '0' && *digit <= '9'; ++digit) {
    value = value * 10 + (*digit - '0');
    if (value > maximum) {
      return -1;
    }
  }
  *end = digit;
  return digit == text ? -1 : value;
}

/* A malformed list adopts nothing: `portpool` writes it, so it is malformed only when set by hand. */
static void read_adopted_ports(const char* list) {
  const char* next = list;
  for (;;) {
    long port = parse_number(next, port_count - 1, &next);
    if (port <= 0 || (*next != '\0' && *next != ',')) {
      memset(adopted_ports, 0, sizeof adopted_ports);
      return;
    }
    adopted_ports[port / bits_per_word] |= UINT64_C(1) << (port % bits_per_word);
    if (*next == '\0') {
      return;
    }
    ++next;
  }
}

static void read_settings(void) {
  void* symbol = dlsym(RTLD_NEXT, "bind");
  memcpy(&next_bind, &symbol, sizeof next_bind);
  const char* ports = getenv("PORTPOOL_ADOPT_PORTS");
  const char* descriptor = getenv("PORTPOOL_ADOPT_FD");
  const char* end = NULL;
  if (ports == NULL || descriptor == NULL) {
    return;
  }
  long number = parse_number(descriptor, INT_MAX, &end);
  if (number < 0 || *end != '\0') {
    return;
  }
  read_adopted_ports(ports);
  held_descriptor = (int)number;
}

static int is_adopted(uint16_t port) {
  return port != 0 && (adopted_ports[port / bits_per_word] >> (port % bits_per_word) & 1U) != 0;
}

static int socket_option(int descriptor, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 ? value : -1;
}

/* The port of an IPv4 or IPv6 address, or 0. */
static uint16_t port_of(const struct sockaddr* address, socklen_t length) {
  if (address == NULL || length < (socklen_t)sizeof(sa_family_t)) {
    return 0;
  }
  if (address->sa_family == AF_INET && length >= (socklen_t)sizeof(struct sockaddr_in)) {
    return ntohs(((const struct sockaddr_in*)(const void*)address)->sin_port);
  }
  if (address->sa_family == AF_INET6 && length >= (socklen_t)sizeof(struct sockaddr_in6)) {
    return ntohs(((const struct sockaddr_in6*)(const void*)address)->sin6_port);
  }
  return 0;
}

/* Whether the program's TCP socket `descriptor` is to become the held socket. */
static int adopts(int descriptor, const struct sockaddr* address, socklen_t length) {
  if (held_descriptor < 0 || descriptor == held_descriptor || !is_adopted(port_of(address, length))) {
    return 0;
  }
  int domain = socket_option(descriptor, SO_DOMAIN);
  return (domain == AF_INET || domain == AF_INET6) && socket_option(descriptor, SO_TYPE) == SOCK_STREAM &&
         socket_option(descriptor, SO_PROTOCOL) == IPPROTO_TCP && socket_option(held_descriptor, SO_ACCEPTCONN) == 1;
}

/* The program's descriptor becomes one of the held socket, with the program's O_NONBLOCK (a status
 * flag of the socket, shared by its descriptors) and close-on-exec (of the descriptor). On failure,
 * -1 with errno set, as a failed bind: the port is not bound in the program's stead. */
static int adopt(int descriptor) {
  int status = fcntl(descriptor, F_GETFL);
  int held_status = fcntl(held_descriptor, F_GETFL);
  int descriptor_flags = fcntl(descriptor, F_GETFD);
  if (status < 0 || held_status < 0 || descriptor_flags < 0) {
    return -1;
  }
  if (fcntl(held_descriptor, F_SETFL, (held_status & ~O_NONBLOCK) | (status & O_NONBLOCK)) != 0) {
    return -1;
  }
  return dup3(held_descriptor, descriptor, (descriptor_flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0) < 0 ? -1 : 0;
}

/* glibc declares bind()'s address, in GNU mode, as a transparent union of the sockaddr pointer
 * types, which is passed as the pointer itself; ISO C calls that union and the pointer type
 * incompatible, GNU C does not. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
__attribute__((visibility("default"))) int bind(int descriptor, const struct sockaddr* address, socklen_t length) {
  pthread_once(&settings_once, read_settings);
  int saved_errno = errno;
  if (adopts(descriptor, address, length)) {
    int adopted = adopt(descriptor);
    if (adopted == 0) {
      errno = saved_errno;
    }
    return adopted;
  }
  errno = saved_errno;
  if (next_bind == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return next_bind(descriptor, address, length);
}
#pragma GCC diagnostic pop
