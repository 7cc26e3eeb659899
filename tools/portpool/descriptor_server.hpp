#pragma once

// `lease --socket-path PATH`: hands the socket of the lease (listening for TCP, bound for UDP, both
// for a `both` service) to whoever connects to the Unix socket PATH, as SCM_RIGHTS descriptors, so
// that a program in another language serves on the very socket that was checked, with no moment in
// which another program could take the port.

#include <portpool/unique_fd.hpp>

#include <filesystem>
#include <vector>

namespace portpool::cli {

class DescriptorServer {
 public:
  /// Listens on the Unix socket `path`, which must not exist yet; its mode is 0600.
  /// @throws UsageError when `path` exists or is too long, std::system_error when it cannot be created.
  explicit DescriptorServer(std::filesystem::path path);
  DescriptorServer(const DescriptorServer&) = delete;
  DescriptorServer& operator=(const DescriptorServer&) = delete;
  DescriptorServer(DescriptorServer&&) = delete;
  DescriptorServer& operator=(DescriptorServer&&) = delete;
  /// Removes the socket file.
  ~DescriptorServer();

  /// The descriptor to poll for a waiting client.
  int descriptor() const noexcept { return server_.get(); }

  /// Accepts one waiting client and sends it the descriptors `shared` (at most two), in this
  /// order, with the message "<port>\n"; a client that went away meanwhile is ignored.
  void serve_one(const std::vector<int>& shared, unsigned port) const;

 private:
  std::filesystem::path path_;
  UniqueFd server_;
};

}  // namespace portpool::cli
