// Linked into the allocation-counting tests (test_*_alloc) in sanitized builds only.
//
// test_optim_alloc replaces operator new(size_t) and operator delete to count
// allocations. The standard (and libstdc++) make the default nothrow
// operator new call the replaced operator new(size_t); ASan's runtime instead
// supplies its own, so Catch2's new(std::nothrow) objects would come from ASan
// and go back through the replaced delete (free): a false alloc-dealloc
// mismatch. These definitions restore the standard routing.
#include <cstddef>
#include <new>

void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}

void operator delete(void* p, const std::nothrow_t&) noexcept { ::operator delete(p); }
