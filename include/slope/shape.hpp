// Shapes and the NumPy broadcasting rule.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace slope {

using Shape = std::vector<std::size_t>;

/// Python-style text: "()" for a scalar, "(4,)" for a vector, "(2, 3)".
std::string to_string(const Shape& shape);

/// Number of entries (1 for a scalar).
std::size_t numel(const Shape& shape);

/// NumPy broadcasting: align trailing dimensions; each pair must be equal or
/// contain a 1. Throws ShapeError "<op>: shapes cannot be broadcast: a is ..., b is ...".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace slope
