// libFuzzer target: slope::train::Trainer::resume, the content checks behind
// a valid container.
//
// fuzz_checkpoint stops where the container is sound; this one starts there.
// Each input has its header's CRC-32 and payload length patched to match its
// payload (as fuzz_checkpoint's third mode does), so every mutation of an
// entry's name, count, shape, value or metadata text passes the checksum and
// reaches Trainer::resume's checks against the model and the optimizer. The
// file is resumed on the spiral's training split (what `slope train --data
// spiral` uses) with two epochs, so that a resumed run has an epoch left:
// that epoch is run too, and whatever the file held must train or stop with
// a slope error. Seeds: checkpoints written by `slope train --data spiral`
// (corpus/resume/valid_*) and crafted ones built from them by make_corpus.py.
//
// Expected outcomes: a slope::Error (IoError naming the file for a file that
// is not one slope wrote; NumericError for weights that diverge). Anything
// else, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "slope/io.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

namespace {

const slope::data::Dataset& spiral() {
  static const slope::data::Dataset d = slope::train::load_dataset("spiral", "", "train");
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  slope::set_num_threads(1);
  spiral();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static slope_fuzz::TempFile file("slope-fuzz-resume");
  if (size < 24) return 0;  // no header to patch: fuzz_checkpoint covers these
  std::vector<std::uint8_t> fixed(data, data + size);
  const std::uint64_t len = size - 24;
  const std::uint32_t crc = slope::io::crc32(std::span(fixed).subspan(24));
  for (int i = 0; i < 4; ++i) fixed[12 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  for (int i = 0; i < 8; ++i) fixed[16 + i] = static_cast<std::uint8_t>(len >> (8 * i));
  const auto& path = file.write(fixed.data(), fixed.size());
  try {
    const auto trainer = slope::train::Trainer::resume(path, spiral(), 2);
    fuzz_check(trainer->step() >= 0);
    if (!trainer->done()) {
      const auto stats = trainer->run_epoch();
      fuzz_check(stats.epoch >= 1 && stats.epoch <= 2);
    }
  } catch (const slope::Error&) {
    // expected: refused contents, or a run that diverges
  }
  return 0;
}
