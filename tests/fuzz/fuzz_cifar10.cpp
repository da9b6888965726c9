// libFuzzer target: slope::data::read_cifar10_batch (3073-byte records).
#include <cstdint>

#include "fuzz_common.hpp"
#include "slope/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-cifar10");
  const auto& path = file.write(data, size);
  try {
    slope::data::Dataset d = slope::data::read_cifar10_batch(path);
    fuzz_check(d.size() >= 1 && d.size() * 3073 == size);
    fuzz_check(d.rows == 32 && d.cols == 32 && d.channels == 3 && d.num_classes() == 10);
    fuzz_check(d.pixels.size() == d.size() * d.dim());
    for (std::size_t i = 0; i < d.size(); ++i) {
      fuzz_check(d.labels[i] >= 0 && d.labels[i] < 10 && d.labels[i] == data[i * 3073]);
      fuzz_check(d.pixels[i * 3072] == data[i * 3073 + 1]);
    }
  } catch (const slope::Error&) {
    // Expected for bad input.
  }
  return 0;
}
