#include "slope/shape.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope {

std::string to_string(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::size_t numel(const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) return 0;
  std::size_t n = 1;
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw ShapeError(fmt::format("shape {} has more entries than 64 bits can count", to_string(shape)));
  return n;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    // i-th dimension counted from the end; missing leading dimensions act as 1.
    std::size_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    std::size_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(fmt::format("{}: shapes cannot be broadcast: a is {}, b is {}", op,
                                   to_string(a), to_string(b)));
    out[n - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace slope
