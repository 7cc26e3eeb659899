#pragma once

// The bodies of PortLease (included at the end of port_lease.hpp). A lease keeps copies of its
// holder's port and names beside its HeldLock, so that a released lease still answers them.

// Only port_lease.hpp includes this file, at its end, after the declarations it defines.

#include <portpool/detail/message.hpp>
#include <portpool/detail/notify.hpp>

#include <utility>

namespace portpool {

namespace detail {

// The lock behind a lease, for the shield (null on a moved-from lease).
inline const HeldLock* held_lock_of(const PortLease& lease) noexcept { return lease.lock_.get(); }

}  // namespace detail

inline PortLease::PortLease(PortLock lock, std::function<void(const Event&)> on_event)
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
inline PortLease::PortLease(PortLease&& other) noexcept
    : lock_(std::move(other.lock_)),
      port_(other.port_),
      service_(std::exchange(other.service_, {})),
      instance_(other.instance_),
      instance_id_(std::exchange(other.instance_id_, {})),
      transport_(other.transport_),
      fencing_token_(std::exchange(other.fencing_token_, std::nullopt)),
      on_event_(std::exchange(other.on_event_, nullptr)) {}

inline PortLease& PortLease::operator=(PortLease&& other) noexcept {
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

inline PortLease::~PortLease() { release(); }

inline std::filesystem::path PortLease::lock_file() const {
  return lock_ ? lock_->directory()->path / lock_->lock_name() : "";
}

inline LockFileIdentity PortLease::lock_file_identity() const noexcept {
  return lock_ ? LockFileIdentity{lock_->device(), lock_->inode()} : LockFileIdentity{};
}

inline void PortLease::set_readiness(Readiness readiness) {
  if (held()) {
    lock_->set_readiness(readiness);
  }
}

inline void PortLease::set_metadata(const std::string& key, std::string value) {
  if (held()) {
    lock_->set_metadata(key, std::move(value));
  }
}

inline void PortLease::release() noexcept {
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
