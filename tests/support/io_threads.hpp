#pragma once

// An io_context run by its own threads for as long as a test or a benchmark needs it, as a service
// runs its shields.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>
#include <vector>

namespace portpool::test {

/// An io_context run by `threads` threads until destroyed. Declare it before the shields, so that
/// they are destroyed first.
class IoThreads {
 public:
  explicit IoThreads(unsigned threads = 1) : guard_(context_.get_executor()) {
    for (unsigned index = 0; index < threads; ++index) {
      threads_.emplace_back([this] { context_.run(); });
    }
  }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;
  IoThreads(IoThreads&&) = delete;
  IoThreads& operator=(IoThreads&&) = delete;
  ~IoThreads() {
    guard_.reset();
    context_.stop();
    for (auto& thread : threads_) {
      thread.join();
    }
  }

  boost::asio::any_io_executor executor() { return context_.get_executor(); }

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

}  // namespace portpool::test
