// libFuzzer target: slope::data::read_idx_images (raw and gzip IDX image files).
#include <cstdint>

#include "fuzz_common.hpp"
#include "slope/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-idx-images");
  const auto& path = file.write(data, size);
  try {
    slope::data::IdxImages img = slope::data::read_idx_images(path);
    fuzz_check(img.count >= 1 && img.count <= slope::data::kMaxExamples);
    fuzz_check(img.rows >= 1 && img.rows <= slope::data::kMaxImageSide);
    fuzz_check(img.cols >= 1 && img.cols <= slope::data::kMaxImageSide);
    fuzz_check(img.pixels.size() == img.count * img.rows * img.cols);
    // A raw file is exactly header + pixels.
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) fuzz_check(size == 16 + img.pixels.size());
  } catch (const slope::Error&) {
    // Expected for bad input.
  }
  return 0;
}
