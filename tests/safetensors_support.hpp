// Hand-made safetensors file images for test_safetensors*.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "test_support.hpp"

namespace slope::testing {

/// The 8-byte little-endian `length`, then `header` as it is, then `data`:
/// a length that disagrees with the header is how some corruptions are made.
inline Bytes st_image_with_length(std::uint64_t length, const std::string& header, const Bytes& data = {}) {
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

/// A file image whose length field matches `header`.
inline Bytes st_image(const std::string& header, const Bytes& data = {}) {
  return st_image_with_length(header.size(), header, data);
}

}  // namespace slope::testing
