// The caching pool (see memory.hpp): free lists of blocks keyed by size, one
// per thread in front of one shared by all.
//
// A thread first reuses the blocks it freed itself, so the threads of a
// data-parallel step (each running its own shard's graph) settle into their
// own working sets after the first step, whatever the order in which the two
// threads allocate: the shared lists alone would let that order decide which
// thread finds a block, and a step could then still ask the system for one.
// A block freed by a thread with no room reserved for it (it was made by
// another thread) goes to the shared lists, which have room for every block
// ever made, so giving a block back never allocates.
#include "slope/memory.hpp"

#include <algorithm>
#include <atomic>
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
// (free or in use) that this list must have room for.
struct SizeClass {
  std::vector<void*> free;
  std::size_t total = 0;
};

struct Counters {
  std::atomic<std::uint64_t> system_allocations{0}, system_bytes{0}, reuses{0};
  std::atomic<std::int64_t> in_use{0}, cached{0};
  std::atomic<std::uint64_t> peak{0};
  void use(std::size_t size) {
    const auto now = static_cast<std::uint64_t>(in_use.fetch_add(static_cast<std::int64_t>(size)) +
                                                static_cast<std::int64_t>(size));
    std::uint64_t p = peak.load(std::memory_order_relaxed);
    while (now > p && !peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {}
  }
};

struct Shared {
  std::mutex mutex;
  std::unordered_map<std::size_t, SizeClass> classes;  // by rounded size
  Counters counters;
};

// Never destroyed: arrays held by static objects may be freed after the
// pool's destructor would have run.
Shared& shared() {
  static Shared* p = new Shared;
  return *p;
}

// One thread's lists: `total` counts the blocks this thread took from the
// shared pool or the system, which is how much room its list keeps.
struct Local {
  std::unordered_map<std::size_t, SizeClass> classes;
  ~Local() {
    // The thread ends: its free blocks go back to the shared lists.
    Shared& s = shared();
    std::lock_guard lock(s.mutex);
    for (auto& [size, c] : classes) {
      SizeClass& g = s.classes[size];
      for (void* b : c.free) {
        if (g.free.size() < g.free.capacity()) g.free.push_back(b);
        else {
          ::operator delete(b, std::align_val_t{kAlign});
          --g.total;
          s.counters.cached -= static_cast<std::int64_t>(size);
        }
      }
    }
  }
};

Local& local() {
  thread_local Local l;
  return l;
}

alignas(kAlign) unsigned char g_empty[kAlign];  // the block of every zero-byte request

// Room in `c`'s free list for one more block (the caller is about to own it).
void reserve_one(SizeClass& c) {
  if (c.free.capacity() < c.total + 1) c.free.reserve(std::max<std::size_t>(4, 2 * (c.total + 1)));
  ++c.total;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) return g_empty;
  const std::size_t size = rounded(bytes);
  Shared& s = shared();
  Local& mine = local();
  auto it = mine.classes.find(size);
  if (it != mine.classes.end() && !it->second.free.empty()) {
    void* block = it->second.free.back();
    it->second.free.pop_back();
    s.counters.reuses.fetch_add(1, std::memory_order_relaxed);
    s.counters.cached -= static_cast<std::int64_t>(size);
    s.counters.use(size);
    return block;
  }
  SizeClass& own = it != mine.classes.end() ? it->second : mine.classes[size];
  reserve_one(own);  // this thread keeps room for the block it takes now
  try {
    std::lock_guard lock(s.mutex);
    auto g = s.classes.find(size);
    if (g != s.classes.end() && !g->second.free.empty()) {
      void* block = g->second.free.back();
      g->second.free.pop_back();
      s.counters.reuses.fetch_add(1, std::memory_order_relaxed);
      s.counters.cached -= static_cast<std::int64_t>(size);
      s.counters.use(size);
      return block;
    }
    reserve_one(s.classes[size]);  // and the shared lists for every block that exists
  } catch (...) {
    --own.total;
    throw;
  }
  // A miss: from the system, outside the lock. If that fails, give the cache
  // back and try once more before reporting the failure.
  void* block = ::operator new(size, std::align_val_t{kAlign}, std::nothrow);
  if (!block) {
    empty_cache();
    block = ::operator new(size, std::align_val_t{kAlign}, std::nothrow);
    if (!block) {
      --own.total;
      std::lock_guard lock(s.mutex);
      --s.classes[size].total;
      throw std::bad_alloc();
    }
  }
  s.counters.system_allocations.fetch_add(1, std::memory_order_relaxed);
  s.counters.system_bytes.fetch_add(size, std::memory_order_relaxed);
  s.counters.use(size);
  return block;
}

void deallocate(void* block, std::size_t bytes) noexcept {
  if (bytes == 0 || block == nullptr || block == g_empty) return;
  const std::size_t size = (bytes + kAlign - 1) / kAlign * kAlign;
  Shared& s = shared();
  s.counters.in_use -= static_cast<std::int64_t>(size);
  s.counters.cached += static_cast<std::int64_t>(size);
  Local& mine = local();
  if (auto it = mine.classes.find(size);
      it != mine.classes.end() && it->second.free.size() < it->second.free.capacity() &&
      it->second.free.size() < it->second.total) {
    it->second.free.push_back(block);
    return;
  }
  std::lock_guard lock(s.mutex);
  auto it = s.classes.find(size);
  // allocate() reserved room for every block it made, so this push_back stays
  // within capacity; if somehow it would not, free the block instead.
  if (it == s.classes.end() || it->second.free.size() == it->second.free.capacity()) {
    if (it != s.classes.end()) --it->second.total;
    s.counters.cached -= static_cast<std::int64_t>(size);
    ::operator delete(block, std::align_val_t{kAlign});
    return;
  }
  it->second.free.push_back(block);
}

Stats stats() {
  const Counters& c = shared().counters;
  Stats s;
  s.system_allocations = c.system_allocations.load();
  s.system_bytes = c.system_bytes.load();
  s.reuses = c.reuses.load();
  s.bytes_in_use = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.in_use.load()));
  s.bytes_cached = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.cached.load()));
  s.peak_bytes_in_use = c.peak.load();
  return s;
}

void empty_cache() {
  // The shared lists, and the calling thread's own (other threads' caches
  // are theirs; they return them when they end).
  Shared& s = shared();
  std::vector<std::pair<void*, std::size_t>> blocks;
  {
    Local& mine = local();
    std::lock_guard lock(s.mutex);
    for (auto& [size, c] : mine.classes) {
      for (void* b : c.free) blocks.emplace_back(b, size);
      c.total -= c.free.size();
      s.classes[size].total -= c.free.size();  // the shared count covers every block
      c.free.clear();
    }
    for (auto& [size, c] : s.classes) {
      for (void* b : c.free) blocks.emplace_back(b, size);
      c.total -= c.free.size();
      c.free.clear();
    }
  }
  for (auto [b, size] : blocks) {
    s.counters.cached -= static_cast<std::int64_t>(size);
    ::operator delete(b, std::align_val_t{kAlign});
  }
}

}  // namespace slope::memory
