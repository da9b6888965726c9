// Shapes and the NumPy broadcasting rule.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xstorage.hpp>

namespace slope {

/// Dimensions, outermost first: a vector with room for 8 inside it, so that
/// shapes (which ops make and compare all the time) never touch the heap.
using Shape = xt::svector<std::size_t, 8>;

/// Python-style text: "()" for a scalar, "(4,)" for a vector, "(2, 3)".
std::string to_string(const Shape& shape);

/// Number of entries (1 for a scalar); ShapeError if the product of the
/// dimensions overflows 64 bits (so no caller allocates a wrapped-around size).
std::size_t numel(const Shape& shape);

/// NumPy broadcasting: align trailing dimensions; each pair must be equal or
/// contain a 1. Throws ShapeError "<op>: shapes cannot be broadcast: a is ..., b is ...".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace slope
