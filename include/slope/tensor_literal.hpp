// The nested literals Tensor's constructors take ({{1, 2}, {3, 4}}): their
// types, shapes and copying (used by include/slope/tensor.hpp).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <type_traits>

#include <fmt/format.h>

#include "slope/error.hpp"
#include "slope/memory.hpp"
#include "slope/shape.hpp"

namespace slope::detail {

// ---- literals -------------------------------------------------------------------
//
// TensorT's literal constructors take nested initializer lists. With plain
// std::initializer_list<T> leaves, {{1.0}, {2.0}} would fit both the 1-level
// form (each {1.0} a braced double) and the 2-level one, equally well. Two
// kinds of constructor keep the depths apart: for lists of one number type E,
// a template on initializer_list<...<E>> (E is deduced only from unbraced
// numbers, so only the true depth matches, with no conversion at all); for
// mixed types, lists of LiteralEntry, which any number converts to (a
// user-defined conversion, so the exact template wins whenever it applies).

/// One number of a literal, converted to T.
template <class T>
struct LiteralEntry {
  T value;
  template <class U>
    requires std::is_arithmetic_v<U>
  LiteralEntry(U v) : value(static_cast<T>(v)) {}  // NOLINT: implicit by design
};

template <class Leaf, std::size_t N>
struct NestedList {
  using type = std::initializer_list<typename NestedList<Leaf, N - 1>::type>;
};
template <class Leaf>
struct NestedList<Leaf, 0> {
  using type = Leaf;
};
/// N levels of braces around LiteralEntry<T>s (any numbers).
template <class T, std::size_t N>
using literal_list = typename NestedList<LiteralEntry<T>, N>::type;

/// 2 to 4 levels of braces around numbers of one type E. Spelled out (not
/// through a ::type) so that E is deducible.
template <class E>
using exact_list2 = std::initializer_list<std::initializer_list<E>>;
template <class E>
using exact_list3 = std::initializer_list<exact_list2<E>>;
template <class E>
using exact_list4 = std::initializer_list<exact_list3<E>>;

template <class L>
struct is_init_list : std::false_type {};
template <class L>
struct is_init_list<std::initializer_list<L>> : std::true_type {};

// The shape of a nested list, read from its first entries (an empty list's
// inner dimensions are 0).
template <class L>
void literal_shape(const std::initializer_list<L>& list, Shape& shape) {
  shape.push_back(list.size());
  if constexpr (is_init_list<L>::value) literal_shape(list.size() > 0 ? *list.begin() : L{}, shape);
}

template <class T, class L>
void literal_copy(const std::initializer_list<L>& list, const Shape& shape, std::size_t depth, T*& out) {
  if (list.size() != shape[depth])
    throw ValueError(fmt::format("Tensor: ragged literal: a list at depth {} has {} entries, the first has {}",
                                 depth, list.size(), shape[depth]));
  for (const L& e : list) {
    if constexpr (is_init_list<L>::value) literal_copy(e, shape, depth + 1, out);
    else if constexpr (std::is_arithmetic_v<L>) *out++ = static_cast<T>(e);
    else *out++ = e.value;
  }
}

/// The array of a nested literal; ValueError if it is ragged.
template <class T, class L>
Array<T> literal_array(const std::initializer_list<L>& list) {
  Shape shape;
  literal_shape(list, shape);
  Array<T> a = Array<T>::from_shape(shape);
  T* out = a.data();
  literal_copy(list, shape, 0, out);
  return a;
}

}  // namespace slope::detail
