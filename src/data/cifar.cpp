// CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html).
//
// A batch file is a plain sequence of 3073-byte records: one label byte in
// [0, 10), then 3072 pixel bytes, 1024 per colour plane (red, green, blue),
// each plane 32 x 32 row-major. The real files hold 10000 records; there is
// no header, so the only size check is an exact, non-zero multiple of 3073.
#include <cstring>

#include <fmt/format.h>

#include "slope/data.hpp"

namespace slope::data {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kSide = 32, kChannels = 3;
constexpr std::size_t kPixels = kSide * kSide * kChannels;  // 3072
constexpr std::size_t kRecord = 1 + kPixels;                // 3073
}  // namespace

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",
                                                 "deer",     "dog",        "frog",  "horse",
                                                 "ship",     "truck"};
  return names;
}

Dataset read_cifar10_batch(const fs::path& path) {
  const std::string file = path.string();
  // read_file refuses, before allocating, a file over the cap.
  std::vector<std::uint8_t> bytes = io::read_file(path, std::uint64_t{kMaxCifarRecords} * kRecord);
  if (bytes.empty()) throw IoError(fmt::format("{}: empty file, expected records of {} bytes", file, kRecord));
  if (bytes.size() % kRecord != 0)
    throw IoError(fmt::format("{}: size {} is not a multiple of the {}-byte record ({} whole "
                              "records and {} bytes over)", file, bytes.size(), kRecord,
                              bytes.size() / kRecord, bytes.size() % kRecord));
  const std::size_t n = bytes.size() / kRecord;
  const std::size_t classes = cifar10_classes().size();
  for (std::size_t i = 0; i < n; ++i)
    if (bytes[i * kRecord] >= classes)
      throw IoError(fmt::format("{}: label {} of record {} is outside [0, {})", file,
                                bytes[i * kRecord], i, classes));
  Dataset d;
  d.name = "cifar-10/" + path.filename().string();
  d.rows = kSide;
  d.cols = kSide;
  d.channels = kChannels;
  d.class_names = cifar10_classes();
  d.labels.resize(n);
  d.pixels.resize(n * kPixels);
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = bytes[i * kRecord];
    std::memcpy(&d.pixels[i * kPixels], &bytes[i * kRecord + 1], kPixels);
  }
  return d;
}

Dataset cifar10(std::string_view split, const fs::path& dir) {
  std::vector<std::string> files;
  if (split == "train")
    for (int i = 1; i <= 5; ++i) files.push_back(fmt::format("data_batch_{}.bin", i));
  else if (split == "test")
    files.push_back("test_batch.bin");
  else
    throw ValueError(fmt::format("cifar10: split '{}' is not 'train' or 'test'", split));
  Dataset all;
  for (const std::string& f : files) {
    Dataset part = read_cifar10_batch(dir / f);
    if (all.labels.empty()) {
      all = std::move(part);
      continue;
    }
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
    all.pixels.insert(all.pixels.end(), part.pixels.begin(), part.pixels.end());
  }
  all.name = fmt::format("cifar-10/{}", split);
  return all;
}

}  // namespace slope::data
