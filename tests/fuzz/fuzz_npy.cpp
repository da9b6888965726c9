// libFuzzer target: slope::io::read_npy. A file it accepts must also survive
// a round trip through write_npy with the same dtype, shape and bytes.
#include <cstdint>

#include "fuzz_common.hpp"
#include "slope/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-npy");
  static slope_fuzz::TempFile copy("slope-fuzz-npy-copy");
  const auto& path = file.write(data, size);
  slope::io::Array a;
  try {
    a = slope::io::read_npy(path);
  } catch (const slope::Error&) {
    return 0;  // expected for bad input
  }
  fuzz_check(a.shape.size() <= slope::io::kMaxRank);
  fuzz_check(a.bytes.size() == slope::numel(a.shape) * slope::io::dtype_size(a.dtype));
  fuzz_check(a.bytes.size() <= slope::io::kMaxArrayBytes && a.bytes.size() < size);
  slope::io::write_npy(copy.path(), a);  // an accepted array must be writable
  slope::io::Array b = slope::io::read_npy(copy.path());
  fuzz_check(b.dtype == a.dtype && b.shape == a.shape && b.bytes == a.bytes);
  return 0;
}
