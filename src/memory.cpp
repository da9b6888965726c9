// The caching pool (see memory.hpp): free lists of blocks keyed by size.
#include "slope/memory.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace slope::memory {

namespace {

constexpr std::size_t kAlign = 64;

std::size_t rounded(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(-1) - kAlign) throw std::bad_array_new_length();
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

// The blocks of one size: those free for reuse, and how many exist in all
// (free or in use). `free` always has capacity for all of them, so a block
// given back never needs an allocation.
struct SizeClass {
  std::vector<void*> free;
  std::size_t total = 0;
};

struct Pool {
  std::mutex mutex;
  std::unordered_map<std::size_t, SizeClass> classes;  // by rounded size
  Stats stats;
};

// Never destroyed: arrays held by static objects may be freed after the
// pool's destructor would have run.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

alignas(kAlign) unsigned char g_empty[kAlign];  // the block of every zero-byte request

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) return g_empty;
  const std::size_t size = rounded(bytes);
  Pool& p = pool();
  {
    std::lock_guard lock(p.mutex);
    auto it = p.classes.find(size);
    if (it != p.classes.end() && !it->second.free.empty()) {
      void* block = it->second.free.back();
      it->second.free.pop_back();
      ++p.stats.reuses;
      p.stats.bytes_cached -= size;
      p.stats.bytes_in_use += size;
      p.stats.peak_bytes_in_use = std::max(p.stats.peak_bytes_in_use, p.stats.bytes_in_use);
      return block;
    }
  }
  // A miss: from the system, outside the lock. If that fails, give the cache
  // back and try once more before reporting the failure.
  void* block = ::operator new(size, std::align_val_t{kAlign}, std::nothrow);
  if (!block) {
    empty_cache();
    block = ::operator new(size, std::align_val_t{kAlign});
  }
  std::lock_guard lock(p.mutex);
  // Make room in this size's free list now, so that giving the block back
  // later never allocates (deallocate is noexcept).
  SizeClass* c = nullptr;
  try {
    c = &p.classes[size];
    if (c->free.capacity() < c->total + 1) c->free.reserve(std::max<std::size_t>(4, 2 * (c->total + 1)));
  } catch (...) {
    ::operator delete(block, std::align_val_t{kAlign});
    throw;
  }
  ++c->total;
  ++p.stats.system_allocations;
  p.stats.system_bytes += size;
  p.stats.bytes_in_use += size;
  p.stats.peak_bytes_in_use = std::max(p.stats.peak_bytes_in_use, p.stats.bytes_in_use);
  return block;
}

void deallocate(void* block, std::size_t bytes) noexcept {
  if (bytes == 0 || block == nullptr || block == g_empty) return;
  const std::size_t size = (bytes + kAlign - 1) / kAlign * kAlign;
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  p.stats.bytes_in_use -= size;
  auto it = p.classes.find(size);
  // allocate() reserved a slot for every block it made, so this push_back
  // stays within capacity; if somehow it would not, free the block instead.
  if (it == p.classes.end() || it->second.free.size() == it->second.free.capacity()) {
    if (it != p.classes.end()) --it->second.total;
    ::operator delete(block, std::align_val_t{kAlign});
    return;
  }
  it->second.free.push_back(block);
  p.stats.bytes_cached += size;
}

Stats stats() {
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  return p.stats;
}

void empty_cache() {
  Pool& p = pool();
  std::vector<std::pair<void*, std::size_t>> blocks;
  {
    std::lock_guard lock(p.mutex);
    for (auto& [size, c] : p.classes) {
      for (void* b : c.free) blocks.emplace_back(b, size);
      p.stats.bytes_cached -= size * c.free.size();
      c.total -= c.free.size();
      c.free.clear();
    }
  }
  for (auto [b, size] : blocks) ::operator delete(b, std::align_val_t{kAlign});
}

}  // namespace slope::memory
