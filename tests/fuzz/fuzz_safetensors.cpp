// libFuzzer target: slope::io::parse_safetensors and load_safetensors.
//
// Each input is tried three ways:
//  1. parse_safetensors() on the bytes as they are;
//  2. load_safetensors() on the same bytes in a file, which must agree with 1
//     (both accept with equal contents, or both throw slope::Error);
//  3. parse_safetensors() after rewriting the 8-byte length field to match the
//     header (where its top-level object ends, plus any space padding) and
//     again to cover the whole rest of the input, so that mutations which
//     grow or shrink the header reach the JSON parser and the tiling checks
//     instead of stopping at the length field.
// Whatever is accepted must keep the format's invariants and survive
// serialize_safetensors() -> parse_safetensors() unchanged.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "slope/io.hpp"

namespace {

using slope::io::TensorFile;

bool same(const TensorFile& a, const TensorFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (auto ia = a.tensors.begin(), ib = b.tensors.begin(); ia != a.tensors.end(); ++ia, ++ib)
    if (ia->first != ib->first || ia->second.dtype != ib->second.dtype ||
        ia->second.shape != ib->second.shape || ia->second.bytes != ib->second.bytes)
      return false;
  return true;
}

void check_accepted(const TensorFile& f, std::size_t input_size) {
  std::uint64_t total = 0;
  for (const auto& [name, a] : f.tensors) {
    fuzz_check(!name.empty() && name.size() <= slope::io::kMaxNameBytes && name != "__metadata__");
    fuzz_check(a.shape.size() <= slope::io::kMaxRank);
    fuzz_check(a.bytes.size() == slope::numel(a.shape) * slope::io::dtype_size(a.dtype));
    total += a.bytes.size();
  }
  for (const auto& [key, value] : f.metadata)
    fuzz_check(!key.empty() && key.size() <= slope::io::kMaxNameBytes);
  fuzz_check(8 + total <= input_size);  // the data came from the input, not from a claim
  std::vector<std::uint8_t> again = slope::io::serialize_safetensors(f);  // must not throw
  fuzz_check((again.size() - total) % 8 == 0);  // the data starts 8-byte aligned
  TensorFile back = slope::io::parse_safetensors(again, "round trip");  // must not throw
  fuzz_check(same(f, back));
  fuzz_check(slope::io::serialize_safetensors(back) == again);
}

std::optional<TensorFile> try_parse(std::span<const std::uint8_t> bytes) {
  try {
    return slope::io::parse_safetensors(bytes, "fuzz input");
  } catch (const slope::Error&) {
    return std::nullopt;  // expected for bad input
  }
}

void set_length(std::vector<std::uint8_t>& b, std::uint64_t n) {
  for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
}

// Where the JSON object starting at byte 8 ends (after its closing brace and
// any spaces), found by counting brackets outside strings; 0 if it does not.
std::size_t header_end(const std::vector<std::uint8_t>& b) {
  if (b.size() <= 8 || b[8] != '{') return 0;
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 8; i < b.size(); ++i) {
    const std::uint8_t c = b[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped byte
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      while (i + 1 < b.size() && b[i + 1] == ' ') ++i;
      return i + 1;
    }
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-safetensors");
  std::span<const std::uint8_t> input(data, size);

  std::optional<TensorFile> direct = try_parse(input);
  if (direct) check_accepted(*direct, size);

  const auto& path = file.write(data, size);
  std::optional<TensorFile> loaded;
  try {
    loaded = slope::io::load_safetensors(path);
  } catch (const slope::Error&) {
  }
  fuzz_check(direct.has_value() == loaded.has_value());
  if (direct) fuzz_check(same(*direct, *loaded));

  if (size >= 8) {
    std::vector<std::uint8_t> fixed(data, data + size);
    if (std::size_t end = header_end(fixed)) {
      set_length(fixed, end - 8);
      if (std::optional<TensorFile> f = try_parse(fixed)) check_accepted(*f, size);
    }
    set_length(fixed, size - 8);
    if (std::optional<TensorFile> f = try_parse(fixed)) check_accepted(*f, size);
  }
  return 0;
}
