#pragma once

// The bodies of PortLease (included at the end of port_lease.hpp, or by <portpool/src.hpp> under
// PORTPOOL_SEPARATE_COMPILATION). A lease keeps copies of its holder's port and names beside its
// HeldLock, so that a released lease still answers them.

#include <portpool/detail/message.hpp>
#include <portpool/detail/notify.hpp>
#include <portpool/impl/lock_file.hpp>

#include <utility>

namespace portpool {

PORTPOOL_DECL PortLease::PortLease(PortLock lock, std::function<void(const Event&)> on_event)
    : lock_(std::move(lock.lock_)),
      port_(lock_->holder().port),
      service_(lock_->holder().service),
      instance_(lock_->holder().instance),
      instance_id_(lock_->holder().instance_id),
      transport_(lock_->holder().transport),
      fencing_token_(lock_->fencing_token()),
      on_event_(std::move(on_event)) {}

// Moved-from leases are emptied explicitly: a moved-from std::string or std::function is only
// "valid but unspecified".
PORTPOOL_DECL PortLease::PortLease(PortLease&& other) noexcept
    : lock_(std::move(other.lock_)),
      port_(other.port_),
      service_(std::exchange(other.service_, {})),
      instance_(other.instance_),
      instance_id_(std::exchange(other.instance_id_, {})),
      transport_(other.transport_),
      fencing_token_(std::exchange(other.fencing_token_, std::nullopt)),
      on_event_(std::exchange(other.on_event_, nullptr)) {}

PORTPOOL_DECL PortLease& PortLease::operator=(PortLease&& other) noexcept {
  if (this != &other) {
    release();
    lock_ = std::move(other.lock_);
    port_ = other.port_;
    service_ = std::exchange(other.service_, {});
    instance_ = other.instance_;
    instance_id_ = std::exchange(other.instance_id_, {});
    transport_ = other.transport_;
    fencing_token_ = std::exchange(other.fencing_token_, std::nullopt);
    on_event_ = std::exchange(other.on_event_, nullptr);
  }
  return *this;
}

PORTPOOL_DECL PortLease::~PortLease() { release(); }

PORTPOOL_DECL std::filesystem::path PortLease::lock_file() const {
  return lock_ ? lock_->directory()->path / lock_->lock_name() : "";
}

PORTPOOL_DECL LockFileIdentity PortLease::lock_file_identity() const noexcept {
  return lock_ ? LockFileIdentity{lock_->device(), lock_->inode()} : LockFileIdentity{};
}

PORTPOOL_DECL void PortLease::set_readiness(Readiness readiness) {
  if (held()) {
    lock_->set_readiness(readiness);
  }
}

PORTPOOL_DECL void PortLease::set_metadata(const std::string& key, std::string value) {
  if (held()) {
    lock_->set_metadata(key, std::move(value));
  }
}

PORTPOOL_DECL bool PortLease::held() const noexcept { return lock_ && lock_->held(); }

PORTPOOL_DECL int PortLease::lock_descriptor() const noexcept { return held() ? lock_->shared_descriptor() : -1; }

PORTPOOL_DECL void PortLease::release() noexcept {
  if (lock_ && lock_->release() && on_event_) {
    try {  // the port is released; only the report of it needs memory
      detail::notify(on_event_, Event{EventKind::released,
                                      service_,
                                      port_,
                                      detail::format_message("released port {}", {port_}),
                                      std::nullopt,
                                      std::nullopt,
                                      {}});
    } catch (...) {  // out of memory for the event: it is dropped, never std::terminate from a destructor
    }
  }
}

}  // namespace portpool
