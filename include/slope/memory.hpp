// The caching allocator behind every tensor's storage.
//
// Training repeats the same graph step after step, so the arrays one step
// frees are exactly the arrays the next step needs. slope keeps freed blocks
// in free lists keyed by their size (rounded up to 64 bytes, the alignment
// every block has) and hands them out again, the way PyTorch's CUDA caching
// allocator does: after the first step of a fixed-shape loop, no array
// storage comes from the system any more, so no page faults, no zeroing of
// fresh pages by the kernel, no mmap/munmap per large array.
//
// `slope::Array<T>` is an xtensor array whose storage comes from here; it is
// the type of every tensor's value and gradient and behaves like xt::xarray<T>
// in every other way. Blocks stay cached until empty_cache(); stats() counts
// what the pool did, for tests and for `slope train --verbose`-style reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include <xtensor/xarray.hpp>

namespace slope {

namespace memory {

/// What the pool has done since the process started (all counters are totals).
struct Stats {
  std::uint64_t system_allocations = 0;  // blocks obtained from the system (cache misses)
  std::uint64_t system_bytes = 0;        // their bytes
  std::uint64_t reuses = 0;              // requests served from the cache (hits)
  std::uint64_t bytes_in_use = 0;        // handed out and not yet returned
  std::uint64_t bytes_cached = 0;        // returned and kept for reuse
  std::uint64_t peak_bytes_in_use = 0;
};

/// A snapshot of the counters (thread-safe).
Stats stats();

/// Returns every cached block to the system; blocks in use are unaffected.
void empty_cache();

/// A block of at least `bytes` bytes, 64-byte aligned; std::bad_alloc if the
/// system has none. Zero bytes give a shared non-null sentinel.
void* allocate(std::size_t bytes);
/// Gives back a block from allocate() of the same `bytes`.
void deallocate(void* p, std::size_t bytes) noexcept;

}  // namespace memory

/// A std::allocator stand-in that draws from slope's caching pool.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(memory::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { memory::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
};

/// The array type of tensor values and gradients: row-major, any rank, with
/// pooled storage. Converts to and from xt::xarray<T> (a copy) and takes any
/// xtensor expression.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, PoolAllocator<T>>;

}  // namespace slope
