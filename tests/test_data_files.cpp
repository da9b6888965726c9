// The IDX and CIFAR-10 readers of slope/data.hpp: valid files, a corpus of
// corruptions, every truncation, and the real Fashion-MNIST files if installed.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include <fstream>
#include <iterator>

#include "slope/data.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {


void be32(Bytes& b, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// An IDX file: magic 00 00 type rank, big-endian dims, then `data`.
Bytes idx(std::uint8_t type, std::vector<std::uint32_t> dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims) be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// 5 images of 3 x 4 with pixel value 10 * image + position, and labels 0..4.
const std::size_t kN = 5, kRows = 3, kCols = 4;
Bytes image_pixels() {
  Bytes p;
  for (std::size_t i = 0; i < kN; ++i)
    for (std::size_t j = 0; j < kRows * kCols; ++j) p.push_back(static_cast<std::uint8_t>(10 * i + j));
  return p;
}
Bytes good_images() { return idx(0x08, {kN, kRows, kCols}, image_pixels()); }
Bytes good_labels() { return idx(0x08, {kN}, {0, 1, 2, 3, 9}); }

}  // namespace

TEST_CASE("raw and gzipped IDX files read to the same images and labels") {
  TempDir dir{"data_files"};
  spit(dir / "img", good_images());
  spit(dir / "img.gz", io::gzip(good_images()));
  spit(dir / "lab", good_labels());
  spit(dir / "lab.gz", io::gzip(good_labels()));
  for (const char* suffix : {"", ".gz"}) {
    INFO("suffix '" << suffix << "'");
    data::IdxImages im = data::read_idx_images(dir / (std::string("img") + suffix));
    CHECK(im.count == kN);
    CHECK(im.rows == kRows);
    CHECK(im.cols == kCols);
    CHECK(im.pixels == image_pixels());
    CHECK(data::read_idx_labels(dir / (std::string("lab") + suffix)) ==
          std::vector<std::int32_t>{0, 1, 2, 3, 9});
  }
}

TEST_CASE("load_idx_split finds train and t10k files, gzipped or not") {
  TempDir dir{"data_files"};
  spit(dir / "train-images-idx3-ubyte.gz", io::gzip(good_images()));
  spit(dir / "train-labels-idx1-ubyte.gz", io::gzip(good_labels()));
  spit(dir / "t10k-images-idx3-ubyte", good_images());
  spit(dir / "t10k-labels-idx1-ubyte", good_labels());
  data::Dataset train = data::load_idx_split(dir.path, "train");
  data::Dataset test = data::load_idx_split(dir.path, "test");
  for (const data::Dataset* d : {&train, &test}) {
    CHECK(d->size() == kN);
    CHECK(d->dim() == kRows * kCols);
    CHECK(d->num_classes() == 10);
    CHECK(d->pixels == image_pixels());
    CHECK(d->labels[4] == 9);
  }
  CHECK_THROWS_AS(data::load_idx_split(dir.path, "validation"), ValueError);
  require_io_error([&] { data::load_idx_split(dir / "absent", "train"); }, dir / "absent",
                   "no such data directory");
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  require_io_error([&] { data::load_idx_split(dir.path, "test"); }, dir.path,
                   "neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte exists");
}

TEST_CASE("load_idx names both files when image and label counts differ") {
  TempDir dir{"data_files"};
  spit(dir / "img", good_images());
  spit(dir / "lab", idx(0x08, {4}, {0, 1, 2, 3}));
  try {
    data::load_idx(dir / "img", dir / "lab");
    FAIL("no error");
  } catch (const IoError& e) {
    std::string m = e.what();
    CHECK(m.find((dir / "img").string() + ": holds 5 images") != std::string::npos);
    CHECK(m.find((dir / "lab").string() + " holds 4 labels") != std::string::npos);
  }
}

TEST_CASE("corrupt IDX files give an IoError naming the file and the defect, raw and gzipped") {
  TempDir dir{"data_files"};
  const Bytes images = good_images();
  Bytes bad_magic = good_images();
  bad_magic[0] = 0x12;
  Bytes short_images = good_images();
  short_images.pop_back();
  Bytes long_images = good_images();
  long_images.push_back(0);
  Bytes short_labels = good_labels();
  short_labels.pop_back();
  struct Case {
    const char* what;
    bool labels;  // read as labels (else as images)
    Bytes bytes;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"empty file", false, {}, "truncated: 0 bytes"},
      {"bad magic", false, bad_magic, "not an IDX file (bad magic 12 00 08 03)"},
      {"int32 element type", false, idx(0x0C, {kN, kRows, kCols}, image_pixels()), "element type 0x0c"},
      {"float element type", true, idx(0x0D, {kN}, {0, 1, 2, 3, 4}), "element type 0x0d"},
      {"images of rank 2", false, idx(0x08, {kN, kRows * kCols}, image_pixels()), "rank 2, expected 3 for images"},
      {"labels of rank 3", true, good_images(), "rank 3, expected 1 for labels"},
      {"header cut in the dims", false, Bytes(images.begin(), images.begin() + 9), "the IDX header needs 16 bytes, file holds 9"},
      {"zero images", false, idx(0x08, {0, kRows, kCols}, {}), "dimension 0 (count) is 0"},
      {"zero rows", false, idx(0x08, {kN, 0, kCols}, {}), "dimension 1 (rows) is 0"},
      {"zero cols", false, idx(0x08, {kN, kRows, 0}, {}), "dimension 2 (cols) is 0"},
      {"zero labels", true, idx(0x08, {0}, {}), "dimension 0 (count) is 0"},
      {"huge count", false, idx(0x08, {0xffffffffu, kRows, kCols}, {}), "is 4294967295, over the cap"},
      {"huge side", false, idx(0x08, {kN, 100000, kCols}, {}), "over the cap of 4096"},
      {"pixels over the total cap", false, idx(0x08, {1u << 24, 4096, 4096}, {}), "over the cap of 1073741824"},
      {"images missing a byte", false, short_images, "truncated: header promises 5 images of 3x4 (60 bytes), file holds 59 bytes"},
      {"labels missing a byte", true, short_labels, "truncated: header promises 5 labels, file holds 4"},
      {"a trailing byte", false, long_images, "trailing"},
      {"label out of range", true, idx(0x08, {kN}, {0, 1, 10, 3, 4}), "label 10 at index 2 is outside [0, 10)"},
  };
  for (const Case& c : cases) {
    for (bool gz : {false, true}) {
      DYNAMIC_SECTION(c.what << (gz ? " (gzip)" : " (raw)")) {
        fs::path p = dir / (gz ? "f.gz" : "f");
        spit(p, gz ? io::gzip(c.bytes) : c.bytes);
        if (c.labels)
          require_io_error([&] { data::read_idx_labels(p); }, p, c.phrase);
        else
          require_io_error([&] { data::read_idx_images(p); }, p, c.phrase);
      }
    }
  }
}

TEST_CASE("gzip-level defects are caught: bad deflate data, bad CRC, cut streams, trailing bytes") {
  TempDir dir{"data_files"};
  fs::path p = dir / "f.gz";
  Bytes gz = io::gzip(good_images());
  SECTION("damaged deflate data") {
    Bytes b = gz;
    b[10] ^= 0xff;  // the first byte after the 10-byte gzip header
    spit(p, b);
    CHECK_THROWS_AS(data::read_idx_images(p), IoError);
  }
  SECTION("a wrong CRC-32 in the gzip trailer") {
    Bytes b = gz;
    b[b.size() - 8] ^= 0x01;
    spit(p, b);
    require_io_error([&] { data::read_idx_images(p); }, p, "corrupt gzip data");
  }
  SECTION("a stream cut before its trailer") {
    spit(p, Bytes(gz.begin(), gz.end() - 4));
    require_io_error([&] { data::read_idx_images(p); }, p, "gzip stream ends before its end marker");
  }
  SECTION("bytes after the gzip stream") {
    Bytes b = gz;
    b.push_back(0);
    b.push_back(0);
    spit(p, b);
    require_io_error([&] { data::read_idx_images(p); }, p, "2 trailing bytes after the gzip stream");
  }
  SECTION("a header promising more than the compressed size can inflate to") {
    // A 28-byte gzip of a header claiming 16 million 28 x 2 images.
    spit(p, io::gzip(idx(0x08, {1u << 24, 28, 2}, {})));
    require_io_error([&] { data::read_idx_images(p); }, p, "more than a");
  }
  SECTION("a directory in place of the file") {
    fs::create_directories(dir / "d");
    require_io_error([&] { data::read_idx_images(dir / "d"); }, dir / "d", "not a regular file");
  }
  SECTION("a missing file") {
    require_io_error([&] { data::read_idx_images(dir / "none"); }, dir / "none", "no such file");
  }
}

TEST_CASE("every truncation of a small IDX file is rejected, raw and gzipped") {
  TempDir dir{"data_files"};
  for (bool labels : {false, true}) {
    Bytes full = labels ? good_labels() : good_images();
    for (bool gz : {false, true}) {
      Bytes file = gz ? io::gzip(full) : full;
      for (std::size_t n = 0; n < file.size(); ++n) {
        fs::path p = dir / "cut";
        spit(p, Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n)));
        INFO((labels ? "labels" : "images") << (gz ? " gzip" : " raw") << ", length " << n);
        if (labels)
          CHECK_THROWS_AS(data::read_idx_labels(p), IoError);
        else
          CHECK_THROWS_AS(data::read_idx_images(p), IoError);
      }
    }
  }
}

// ---- CIFAR-10 --------------------------------------------------------------------

namespace {
// `n` records; record i has label i % 10 and pixels (i + j) % 256.
Bytes cifar_records(std::size_t n, std::size_t first = 0) {
  Bytes b;
  for (std::size_t i = first; i < first + n; ++i) {
    b.push_back(static_cast<std::uint8_t>(i % 10));
    for (std::size_t j = 0; j < 3072; ++j) b.push_back(static_cast<std::uint8_t>((i + j) % 256));
  }
  return b;
}
}  // namespace

TEST_CASE("a CIFAR-10 batch reads to 32 x 32 x 3 images, channel-major, with labels") {
  TempDir dir{"data_files"};
  spit(dir / "b.bin", cifar_records(3));
  data::Dataset d = data::read_cifar10_batch(dir / "b.bin");
  CHECK(d.size() == 3);
  CHECK(d.dim() == 3072);
  CHECK(d.channels == 3);
  CHECK(d.labels == std::vector<std::int32_t>{0, 1, 2});
  CHECK(d.pixels[3072 + 5] == 6);
  CHECK(d.class_names[9] == "truck");
}

TEST_CASE("cifar10 concatenates the five training batches and reads the test batch") {
  TempDir dir{"data_files"};
  for (int i = 1; i <= 5; ++i)
    spit(dir / ("data_batch_" + std::to_string(i) + ".bin"), cifar_records(2, 2 * (i - 1)));
  spit(dir / "test_batch.bin", cifar_records(1));
  data::Dataset train = data::cifar10("train", dir.path);
  CHECK(train.size() == 10);
  CHECK(train.labels == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(train.pixels.size() == 10 * 3072);
  CHECK(train.pixels[9 * 3072] == 9);
  CHECK(data::cifar10("test", dir.path).size() == 1);
  CHECK_THROWS_AS(data::cifar10("val", dir.path), ValueError);
  fs::remove(dir / "data_batch_4.bin");
  require_io_error([&] { data::cifar10("train", dir.path); }, dir / "data_batch_4.bin", "cannot open");
}

TEST_CASE("corrupt CIFAR-10 batches are rejected with the file and the defect named") {
  TempDir dir{"data_files"};
  fs::path p = dir / "b.bin";
  Bytes bad_label = cifar_records(2);
  bad_label[3073] = 10;
  SECTION("empty") {
    spit(p, {});
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "empty file");
  }
  SECTION("a label of 10") {
    spit(p, bad_label);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "label 10 of record 1 is outside [0, 10)");
  }
  SECTION("a byte short") {
    Bytes b = cifar_records(2);
    b.pop_back();
    spit(p, b);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "not a multiple of the 3073-byte record");
  }
  SECTION("a byte over") {
    Bytes b = cifar_records(1);
    b.push_back(0);
    spit(p, b);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "1 whole records and 1 bytes over");
  }
  SECTION("truncations of a two-record file at every 97th length") {
    Bytes full = cifar_records(2);
    for (std::size_t n = 0; n < full.size(); n += 97) {
      if (n == 3073) continue;  // one whole record is a valid batch
      spit(p, Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
      INFO("length " << n);
      CHECK_THROWS_AS(data::read_cifar10_batch(p), IoError);
    }
  }
}

// ---- the real data ----------------------------------------------------------------

TEST_CASE("the installed Fashion-MNIST has 60000 + 10000 balanced 28 x 28 images") {
  // Missing data is a failure, not a skip: CI installs the package.
  INFO("Fashion-MNIST must be installed at " << data::kFashionMnistDir << " (Debian: dataset-fashion-mnist)");
  REQUIRE(fs::is_directory(data::kFashionMnistDir));
  data::Dataset train = data::fashion_mnist("train");
  data::Dataset test = data::fashion_mnist("test");
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.rows == 28);
  CHECK(train.cols == 28);
  CHECK(train.pixels.size() == 60000u * 784u);
  CHECK(train.class_names[9] == "Ankle boot");
  std::vector<int> counts(10, 0);
  for (auto y : test.labels) ++counts[static_cast<std::size_t>(y)];
  CHECK(counts == std::vector<int>(10, 1000));
}

TEST_CASE("fashion_mnist on a missing directory says how to get the data") {
  require_io_error([] { data::fashion_mnist("train", "/nonexistent/fm"); }, "/nonexistent/fm",
                   "dataset-fashion-mnist");
}
