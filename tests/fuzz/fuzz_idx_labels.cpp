// libFuzzer target: slope::data::read_idx_labels (raw and gzip IDX label files).
#include <cstdint>

#include "fuzz_common.hpp"
#include "slope/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-idx-labels");
  const auto& path = file.write(data, size);
  try {
    std::vector<std::int32_t> labels = slope::data::read_idx_labels(path, 10);
    fuzz_check(!labels.empty() && labels.size() <= slope::data::kMaxExamples);
    for (std::int32_t y : labels) fuzz_check(y >= 0 && y < 10);
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) fuzz_check(size == 8 + labels.size());
  } catch (const slope::Error&) {
    // Expected for bad input.
  }
  return 0;
}
