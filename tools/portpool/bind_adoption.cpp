#include "bind_adoption.hpp"

#include <portpool/parse_integer.hpp>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>
#include <variant>

namespace portpool::cli {
namespace {

// The audit architecture whose system call numbers this build knows (__NR_bind is the build's).
#if defined(__x86_64__)
constexpr std::uint32_t build_architecture = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t build_architecture = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t build_architecture = 0;
#endif

// Linux 5.9 brought SECCOMP_IOCTL_NOTIF_ADDFD, without which the held socket cannot be installed.
constexpr std::pair<int, int> first_kernel_with_addfd{5, 9};

std::string errno_message(int error) { return std::system_category().message(error); }

std::optional<std::pair<int, int>> kernel_version(std::string_view release) {
  auto major_end = release.find('.');
  if (major_end == std::string_view::npos) {
    return std::nullopt;
  }
  auto minor_text = release.substr(major_end + 1);
  auto minor_end = std::min(minor_text.find_first_not_of("0123456789"), minor_text.size());
  auto major = parse_integer<int>(std::string(release.substr(0, major_end)).c_str());
  auto minor = parse_integer<int>(std::string(minor_text.substr(0, minor_end)).c_str());
  if (!major || !minor) {
    return std::nullopt;
  }
  return std::pair{*major, *minor};
}

const char* step_name(FilterStep step) {
  switch (step) {
    case FilterStep::no_new_privs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case FilterStep::seccomp:
      return "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER)";
    case FilterStep::none:
      break;
  }
  return "sending the listener to the keeper";
}

// What CMD's process sends with the listener, or instead of it.
struct FilterMessage {
  std::int32_t error = 0;
  FilterStep failed_step = FilterStep::none;
};

// The port of an IPv4 or IPv6 address of `size` bytes; nullopt for any other family.
std::optional<std::uint16_t> internet_port(const sockaddr_storage& address, std::size_t size) {
  if (size >= sizeof(sockaddr_in) && address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (size >= sizeof(sockaddr_in6) && address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return std::nullopt;
}

// The thread group (process) of thread `thread`: a notification names the thread that called,
// and pidfd_open takes a process. Read only when the thread is not the main one (pidfd_open of the
// thread fails then): the status file costs about 0.3 ms to make.
std::optional<pid_t> process_of_thread(pid_t thread) {
  std::ifstream status(fmt::format("/proc/{}/status", thread));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Tgid:", 0) == 0) {
      return parse_integer<pid_t>(line.substr(line.find_first_not_of(" \t", 5)).c_str());
    }
  }
  return std::nullopt;
}

// Whether descriptor `descriptor` of thread `thread` is close-on-exec: the "flags" line of its
// fdinfo has O_CLOEXEC then. (A copy made with pidfd_getfd has its own descriptor flags.)
std::optional<bool> close_on_exec(pid_t thread, int descriptor) {
  std::ifstream information(fmt::format("/proc/{}/fdinfo/{}", thread, descriptor));
  std::string line;
  while (std::getline(information, line)) {
    if (line.rfind("flags:", 0) == 0) {
      return (std::strtoul(line.c_str() + 6, nullptr, 8) & O_CLOEXEC) != 0;
    }
  }
  return std::nullopt;
}

bool is_tcp_socket(int descriptor) {
  int type = 0;
  int protocol = 0;
  socklen_t size = sizeof type;
  if (::getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &size) != 0) {
    return false;
  }
  size = sizeof protocol;
  return ::getsockopt(descriptor, SOL_SOCKET, SO_PROTOCOL, &protocol, &size) == 0 && type == SOCK_STREAM &&
         protocol == IPPROTO_TCP;
}

// How a notification is answered.
struct Answer {
  enum Kind { continue_call, succeed, fail, drop } kind = continue_call;
  int error = 0;  ///< fail: the errno the bind returns
};

constexpr Answer continue_call{Answer::continue_call, 0};
constexpr Answer drop{Answer::drop, 0};

// Whether the caller still waits for the answer to `id`: it is alive, and what was read of its
// pid was of it.
bool is_pending(int listener, std::uint64_t id) { return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

// A step of looking at the caller of `call` failed with `error`: the call itself is wrong (the
// kernel says so when it continues), or the caller is gone (nothing to answer), or the keeper
// cannot see it, which is said, and the bind fails rather than take the fixed port unseen.
Answer answer_to_failed_look(const char* what, int error, const seccomp_notif& call, int listener) {
  if (error == EFAULT || error == EBADF) {
    return continue_call;
  }
  if (!is_pending(listener, call.id)) {
    return drop;
  }
  std::fputs(fmt::format("portpool: cannot adopt a bind of process {}: {}: {}; the bind fails with that error\n",
                         call.pid, what, errno_message(error))
                 .c_str(),
             stderr);
  return {Answer::fail, error};
}

// The port a bind asks for, read from the caller's memory; or, when it asks for no IPv4 or IPv6
// address or the memory cannot be read, the answer the call gets.
std::variant<std::uint16_t, Answer> requested_port(const seccomp_notif& call, int listener) {
  sockaddr_storage address{};
  auto size = static_cast<std::size_t>(std::min<std::uint64_t>(call.data.args[2], sizeof(sockaddr_in6)));
  iovec local{&address, size};
  iovec remote{reinterpret_cast<void*>(call.data.args[1]), size};  // NOLINT(performance-no-int-to-ptr)
  ssize_t count = ::process_vm_readv(static_cast<pid_t>(call.pid), &local, 1, &remote, 1, 0);
  if (count < 0) {
    return answer_to_failed_look("process_vm_readv", errno, call, listener);
  }
  auto port = internet_port(address, static_cast<std::size_t>(count));
  if (!port) {
    return continue_call;
  }
  return *port;
}

// Installs `held_socket` over the caller's descriptor, with the caller's O_NONBLOCK and close-on-exec,
// once the notification is known to be still waiting (its process alive: what was read is its).
Answer install_held_socket(const seccomp_notif& call, int listener, int held_socket) {
  const auto thread = static_cast<pid_t>(call.pid);
  const auto descriptor = static_cast<int>(call.data.args[0]);
  UniqueFd handle(static_cast<int>(::syscall(SYS_pidfd_open, thread, 0)));
  if (!handle && (errno == ENOENT || errno == EINVAL)) {  // not the main thread: its process is opened
    auto process = process_of_thread(thread);
    if (!process) {
      return answer_to_failed_look("reading /proc/PID/status", EACCES, call, listener);
    }
    handle.reset(static_cast<int>(::syscall(SYS_pidfd_open, *process, 0)));
  }
  if (!handle) {
    return answer_to_failed_look("pidfd_open", errno, call, listener);
  }
  UniqueFd socket(static_cast<int>(::syscall(SYS_pidfd_getfd, handle.get(), descriptor, 0)));
  if (!socket) {
    return answer_to_failed_look("pidfd_getfd", errno, call, listener);
  }
  if (!is_tcp_socket(socket.get())) {
    return continue_call;
  }
  auto close_on_exec_flag = close_on_exec(thread, descriptor);
  if (!close_on_exec_flag) {
    return answer_to_failed_look("reading /proc/PID/fdinfo/FD", EACCES, call, listener);
  }
  if (!is_pending(listener, call.id)) {
    return drop;
  }
  const int target_status = ::fcntl(socket.get(), F_GETFL);
  const int held_status = ::fcntl(held_socket, F_GETFL);
  ::fcntl(held_socket, F_SETFL, (held_status & ~O_NONBLOCK) | (target_status & O_NONBLOCK));
  seccomp_notif_addfd addition{};
  addition.id = call.id;
  addition.flags = SECCOMP_ADDFD_FLAG_SETFD;
  addition.srcfd = static_cast<std::uint32_t>(held_socket);
  addition.newfd = static_cast<std::uint32_t>(descriptor);
  addition.newfd_flags = *close_on_exec_flag ? O_CLOEXEC : 0;
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addition) < 0) {
    return answer_to_failed_look("SECCOMP_IOCTL_NOTIF_ADDFD", errno, call, listener);
  }
  return {Answer::succeed, 0};
}

Answer decide(const seccomp_notif& call, int listener, int held_socket, const std::vector<std::uint16_t>& ports) {
  if (call.data.arch != build_architecture || call.data.nr != __NR_bind) {
    return continue_call;
  }
  auto port = requested_port(call, listener);
  if (const auto* answer = std::get_if<Answer>(&port)) {
    return *answer;
  }
  if (std::find(ports.begin(), ports.end(), std::get<std::uint16_t>(port)) == ports.end()) {
    return continue_call;
  }
  return install_held_socket(call, listener, held_socket);
}

}  // namespace

std::optional<std::vector<std::uint16_t>> keeper_adopted_ports(std::string_view text) {
  std::vector<std::uint16_t> ports;
  while (true) {
    auto end = std::min(text.find(','), text.size());
    auto port = parse_integer<std::uint16_t>(std::string(text.substr(0, end)).c_str());
    if (!port) {
      return std::nullopt;
    }
    ports.push_back(*port);
    if (end == text.size()) {
      return ports;
    }
    text.remove_prefix(end + 1);
  }
}

std::optional<std::string> seccomp_adoption_unavailable() {
  if (build_architecture == 0) {
    return std::string(
        "--adopt-mode seccomp knows the system call numbers of x86_64 and aarch64 only; use "
        "--adopt-mode preload for dynamically linked programs");
  }
  utsname system{};
  ::uname(&system);
  auto version = kernel_version(system.release);
  if (!version || *version < first_kernel_with_addfd) {
    return fmt::format(
        "--adopt-mode seccomp needs Linux 5.9 or later (SECCOMP_IOCTL_NOTIF_ADDFD); this kernel is "
        "{}; use --adopt-mode preload for dynamically linked programs",
        system.release);
  }
  return std::nullopt;
}

FilterOutcome install_bind_filter() {
  // The filter checks the architecture first: a process may enter the kernel through another ABI
  // (32-bit x86 on x86_64), whose numbers mean other calls. Those calls are let through unadopted,
  // as are x32 calls (their numbers carry __X32_SYSCALL_BIT): the filter adopts binds, it is no
  // sandbox, and a notification it misread could only go wrong.
  std::array<sock_filter, 6> instructions{{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, build_architecture, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  }};
  sock_fprog program{static_cast<unsigned short>(instructions.size()), instructions.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return {-1, errno, FilterStep::no_new_privs};
  }
  auto listener =
      static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program));
  if (listener < 0) {
    return {-1, errno, FilterStep::seccomp};
  }
  return {listener, 0, FilterStep::none};
}

bool send_filter_outcome(int channel, const FilterOutcome& outcome) {
  FilterMessage message{outcome.error, outcome.failed_step};
  iovec content{&message, sizeof message};
  msghdr header{};
  header.msg_iov = &content;
  header.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  if (outcome.listener >= 0) {
    header.msg_control = control.data();
    header.msg_controllen = control.size();
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &outcome.listener, sizeof(int));
  }
  ssize_t sent = -1;
  while ((sent = ::sendmsg(channel, &header, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (outcome.listener >= 0) {
    ::close(outcome.listener);
  }
  return sent == static_cast<ssize_t>(sizeof message);
}

ReceivedListener receive_bind_listener(int channel) {
  FilterMessage message;
  iovec content{&message, sizeof message};
  msghdr header{};
  header.msg_iov = &content;
  header.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  header.msg_control = control.data();
  header.msg_controllen = control.size();
  ssize_t received = -1;
  while ((received = ::recvmsg(channel, &header, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  ReceivedListener result;
  cmsghdr* rights = received > 0 ? CMSG_FIRSTHDR(&header) : nullptr;
  if (rights != nullptr && rights->cmsg_level == SOL_SOCKET && rights->cmsg_type == SCM_RIGHTS) {
    int descriptor = -1;
    std::memcpy(&descriptor, CMSG_DATA(rights), sizeof descriptor);
    result.descriptor.emplace(descriptor);
    return result;
  }
  if (received < 0) {
    result.error = errno;
    result.problem = fmt::format("cannot receive the seccomp listener from CMD's process: {}", errno_message(errno));
  } else if (received != static_cast<ssize_t>(sizeof message) || message.error == 0) {
    result.error = EPIPE;
    result.problem = "CMD's process ended before it installed the seccomp filter that adopts its binds";
  } else {
    result.error = message.error;
    result.problem = fmt::format("cannot install the seccomp filter that adopts CMD's binds: {}: {}",
                                 step_name(message.failed_step), errno_message(message.error));
    if (message.failed_step == FilterStep::seccomp && (message.error == EINVAL || message.error == EACCES)) {
      result.problem +=
          "; this kernel, or the container it runs in, does not allow seccomp user notifications: use "
          "--adopt-mode preload for dynamically linked programs";
    }
  }
  return result;
}

BindAdoption::BindAdoption(UniqueFd listener, int held_socket, std::vector<std::uint16_t> ports)
    : listener_(std::move(listener)), held_socket_(held_socket), ports_(std::move(ports)) {
  seccomp_notif_sizes sizes{};
  ::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
  notification_.resize(std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
}

std::optional<std::string> BindAdoption::serve_one() {
  std::fill(notification_.begin(), notification_.end(), 0);  // the kernel wants it zeroed
  auto& call = *reinterpret_cast<seccomp_notif*>(notification_.data());
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, &call) != 0) {
    if (errno == EINTR || errno == ENOENT) {  // ENOENT: the caller died between poll and receive
      return std::nullopt;
    }
    return fmt::format("cannot receive a bind notification: {}", errno_message(errno));
  }
  Answer answer = decide(call, listener_.get(), held_socket_, ports_);
  if (answer.kind == Answer::drop) {
    return std::nullopt;
  }
  if (answer.kind == Answer::succeed) {
    ++adopted_count_;
  }
  seccomp_notif_resp response{};
  response.id = call.id;
  if (answer.kind == Answer::continue_call) {
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else if (answer.kind == Answer::fail) {
    response.error = -answer.error;
  }
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, &response) != 0 && errno != ENOENT) {
    return fmt::format("cannot answer a bind notification: {}", errno_message(errno));
  }
  return std::nullopt;
}

}  // namespace portpool::cli
