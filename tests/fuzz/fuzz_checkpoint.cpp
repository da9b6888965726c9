// libFuzzer target: slope::io::Checkpoint::deserialize and Checkpoint::load.
//
// Each input is tried three ways:
//  1. deserialize() on the bytes as they are;
//  2. load() on the same bytes in a file, which must agree with 1 (both accept
//     with equal contents, or both throw slope::Error);
//  3. deserialize() after patching the header's CRC-32 and payload length to
//     match the payload, so that mutations reach the payload parser instead of
//     stopping at the checksum.
// Whatever is accepted must survive serialize() -> deserialize() unchanged.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "slope/io.hpp"

namespace {

using slope::io::Checkpoint;

bool same(const Checkpoint& a, const Checkpoint& b) {
  if (a.metadata() != b.metadata() || a.arrays().size() != b.arrays().size()) return false;
  for (auto ia = a.arrays().begin(), ib = b.arrays().begin(); ia != a.arrays().end(); ++ia, ++ib)
    if (ia->first != ib->first || ia->second.dtype != ib->second.dtype ||
        ia->second.shape != ib->second.shape || ia->second.bytes != ib->second.bytes)
      return false;
  return true;
}

void check_accepted(const Checkpoint& ck) {
  for (const auto& [name, a] : ck.arrays()) {
    fuzz_check(!name.empty() && name.size() <= slope::io::kMaxNameBytes);
    fuzz_check(a.shape.size() <= slope::io::kMaxRank);
    fuzz_check(a.bytes.size() == slope::numel(a.shape) * slope::io::dtype_size(a.dtype));
  }
  for (const auto& [key, value] : ck.metadata())
    fuzz_check(!key.empty() && key.size() <= slope::io::kMaxNameBytes);
  std::vector<std::uint8_t> again = ck.serialize();
  Checkpoint back = Checkpoint::deserialize(again, "round trip");  // must not throw
  fuzz_check(same(ck, back));
}

std::optional<Checkpoint> try_deserialize(std::span<const std::uint8_t> bytes) {
  try {
    return Checkpoint::deserialize(bytes, "fuzz input");
  } catch (const slope::Error&) {
    return std::nullopt;  // expected for bad input
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-checkpoint");
  std::span<const std::uint8_t> input(data, size);

  std::optional<Checkpoint> direct = try_deserialize(input);
  if (direct) check_accepted(*direct);

  const auto& path = file.write(data, size);
  std::optional<Checkpoint> loaded;
  try {
    loaded = Checkpoint::load(path);
  } catch (const slope::Error&) {
  }
  fuzz_check(direct.has_value() == loaded.has_value());
  if (direct) fuzz_check(same(*direct, *loaded));

  if (size >= 24) {
    std::vector<std::uint8_t> fixed(data, data + size);
    std::uint64_t len = size - 24;
    std::uint32_t crc = slope::io::crc32(std::span(fixed).subspan(24));
    for (int i = 0; i < 4; ++i) fixed[12 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
    for (int i = 0; i < 8; ++i) fixed[16 + i] = static_cast<std::uint8_t>(len >> (8 * i));
    if (std::optional<Checkpoint> ck = try_deserialize(fixed)) check_accepted(*ck);
  }
  return 0;
}
