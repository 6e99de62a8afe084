// Secret memory: sodium_malloc gives guard pages, a canary and mlock; we keep the pages
// inaccessible (PROT_NONE) except while a Reader or Writer is alive.
#include <sodium.h>

#include <new>

#include "k3s_daas/crypto.hpp"

namespace k3s_daas::crypto {

SecretBytes::SecretBytes(std::size_t size) {
  if (size == 0) return;
  if (!init().ok()) throw std::bad_alloc();
  data_ = static_cast<std::uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  size_ = size;
  sodium_memzero(data_, size_);
  mutex_ = std::make_unique<std::mutex>();
  sodium_mprotect_noaccess(data_);
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_), mutex_(std::move(other.mutex_)), readers_(other.readers_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.readers_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    mutex_ = std::move(other.mutex_);
    readers_ = other.readers_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.readers_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { release(); }

void SecretBytes::release() {
  if (data_ != nullptr) {
    // sodium_free wipes the region (it needs write access to do so).
    sodium_mprotect_readwrite(data_);
    sodium_free(data_);
  }
  data_ = nullptr;
  size_ = 0;
  readers_ = 0;
  mutex_.reset();
}

SecretBytes::Reader::Reader(const SecretBytes& secret) : secret_(secret) {
  if (secret_.data_ == nullptr) return;
  std::lock_guard<std::mutex> lock(*secret_.mutex_);
  if (secret_.readers_++ == 0) sodium_mprotect_readonly(secret_.data_);
}

SecretBytes::Reader::~Reader() {
  if (secret_.data_ == nullptr) return;
  std::lock_guard<std::mutex> lock(*secret_.mutex_);
  if (--secret_.readers_ == 0) sodium_mprotect_noaccess(secret_.data_);
}

SecretBytes::Writer::Writer(SecretBytes& secret) : secret_(secret) {
  if (secret_.data_ == nullptr) return;
  secret_.mutex_->lock();
  sodium_mprotect_readwrite(secret_.data_);
}

SecretBytes::Writer::~Writer() {
  if (secret_.data_ == nullptr) return;
  sodium_mprotect_noaccess(secret_.data_);
  secret_.mutex_->unlock();
}

}  // namespace k3s_daas::crypto
