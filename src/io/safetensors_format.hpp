// What the safetensors reader and writer share: the dtype table, sizes and
// how names appear in messages. Internal to src/io.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "slope/io.hpp"

namespace slope::io::st {

/// Bytes of the little-endian header length that opens every file.
inline constexpr std::size_t kPrefixBytes = 8;

// Every dtype name the format defines; the ones without a slope dtype are
// recognised so that the error can say "unsupported" rather than "unknown".
struct DTypeName {
  std::string_view name;
  std::optional<DType> dtype;
};
inline constexpr DTypeName kDTypes[] = {
    {"F64", DType::f64}, {"F32", DType::f32}, {"I64", DType::i64}, {"I32", DType::i32},
    {"U8", DType::u8}, {"BOOL", {}}, {"I8", {}}, {"I16", {}}, {"U16", {}}, {"U32", {}},
    {"U64", {}}, {"F16", {}}, {"BF16", {}}, {"F8_E4M3", {}}, {"F8_E5M2", {}},
    {"F8_E8M0", {}}, {"F6_E2M3", {}}, {"F6_E3M2", {}}, {"F4", {}}, {"C64", {}},
};

/// The format's name of a slope dtype ("F32" for f32).
inline std::string_view st_name(DType t) {
  for (const DTypeName& d : kDTypes)
    if (d.dtype == t) return d.name;
  throw ValueError("serialize_safetensors: unknown dtype");
}

// A name or key for a message: quoted, and cut (at a character boundary) when
// long, so that a 100 MB string in a hostile header cannot make a 100 MB message.
inline std::string shown(std::string_view s) {
  if (s.size() <= 64) return fmt::format("'{}'", s);
  std::size_t n = 60;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return fmt::format("'{}...'", s.substr(0, n));
}

// numel(shape) * dtype size, or nullopt if it overflows 64 bits. A shape with
// a zero dimension holds nothing whatever its other dimensions, so the answer
// never depends on the order in which they are multiplied.
inline std::optional<std::uint64_t> byte_size(DType t, const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t n = dtype_size(t);
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(n, std::uint64_t{d}, &n)) return std::nullopt;
  return n;
}

}  // namespace slope::io::st
