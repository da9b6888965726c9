// IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/).
//
// A 4-byte magic 00 00 TT RR (TT = element type, 0x08 = unsigned byte; RR =
// rank), then RR big-endian uint32 dimensions, then the elements row-major.
// Images: magic 0x00000803 (count, rows, cols). Labels: 0x00000801 (count).
#include <fmt/format.h>

#include "byte_source.hpp"
#include "slope/data.hpp"

namespace slope::data {

namespace fs = std::filesystem;

namespace {

struct IdxHeader {
  std::vector<std::size_t> dims;
  std::uint64_t header_bytes = 0;
  std::uint64_t payload_bytes = 0;  // product of dims, one byte each
};

// Reads and validates the header: magic, type, rank, each dimension positive
// and under its cap, total size under `max_bytes` (checked multiplication).
IdxHeader read_header(detail::ByteSource& src, unsigned rank, const char* what,
                      const std::size_t* caps, std::uint64_t max_bytes) {
  auto fail = [&](const std::string& m) { throw IoError(fmt::format("{}: {}", src.name(), m)); };
  std::uint8_t magic[4];
  std::size_t got = src.read(magic, 4);
  if (got < 4)
    fail(fmt::format("truncated: {} bytes, an IDX header needs at least 4", got));
  if (magic[0] != 0 || magic[1] != 0)
    fail(fmt::format("not an IDX file (bad magic {:02x} {:02x} {:02x} {:02x})", magic[0], magic[1],
                     magic[2], magic[3]));
  if (magic[2] != 0x08)
    fail(fmt::format("element type 0x{:02x} is not unsigned byte (0x08)", magic[2]));
  if (magic[3] != rank)
    fail(fmt::format("rank {}, expected {} for {}", magic[3], rank, what));

  IdxHeader h;
  h.header_bytes = 4 + 4 * std::uint64_t{rank};
  std::uint8_t raw[12];
  got = src.read(raw, 4 * rank);
  if (got < 4 * rank)
    fail(fmt::format("truncated: the IDX header needs {} bytes, file holds {}", h.header_bytes,
                     4 + got));
  static const char* const names[] = {"count", "rows", "cols"};
  h.payload_bytes = 1;
  for (unsigned i = 0; i < rank; ++i) {
    std::uint64_t d = (std::uint64_t{raw[4 * i]} << 24) | (std::uint64_t{raw[4 * i + 1]} << 16) |
                      (std::uint64_t{raw[4 * i + 2]} << 8) | raw[4 * i + 3];
    if (d == 0) fail(fmt::format("dimension {} ({}) is 0; every dimension must be positive", i, names[i]));
    if (d > caps[i])
      fail(fmt::format("dimension {} ({}) is {}, over the cap of {}", i, names[i], d, caps[i]));
    h.dims.push_back(static_cast<std::size_t>(d));
    if (__builtin_mul_overflow(h.payload_bytes, d, &h.payload_bytes) || h.payload_bytes > max_bytes)
      fail(fmt::format("{} bytes of {} is over the cap of {}", h.payload_bytes, what, max_bytes));
  }
  return h;
}

// What the header promises, for messages: "60000 labels", "60000 images of 28x28".
std::string promise_text(const IdxHeader& h, const char* what) {
  if (h.dims.size() == 1) return fmt::format("{} {}", h.dims[0], what);
  return fmt::format("{} {} of {}x{}", h.dims[0], what, h.dims[1], h.dims[2]);
}

[[noreturn]] void truncated(const detail::ByteSource& src, const IdxHeader& h, const char* what,
                            std::uint64_t have) {
  std::string tail = src.cut_short() ? " (the gzip stream is cut short)" : "";
  if (h.dims.size() == 1)
    throw IoError(fmt::format("{}: truncated: header promises {}, file holds {}{}", src.name(),
                              promise_text(h, what), have, tail));
  throw IoError(fmt::format("{}: truncated: header promises {} ({} bytes), file holds {} bytes{}",
                            src.name(), promise_text(h, what), h.payload_bytes, have, tail));
}

// Reads the payload after checking, before allocating, that the file can hold it.
std::vector<std::uint8_t> read_payload(detail::ByteSource& src, const IdxHeader& h, const char* what) {
  std::uint64_t file = src.file_size();
  if (!src.gzipped()) {
    std::uint64_t have = file - h.header_bytes;  // read_header succeeded, so file >= header
    if (have < h.payload_bytes) truncated(src, h, what, have);
    if (have > h.payload_bytes)
      throw IoError(fmt::format("{}: {} trailing bytes after the {} the header promises",
                                src.name(), have - h.payload_bytes, promise_text(h, what)));
  } else if (h.header_bytes + h.payload_bytes > file * kMaxGzipRatio + 1024) {
    throw IoError(fmt::format("{}: truncated: header promises {} ({} bytes), more than a {}-byte "
                              "gzip file can inflate to", src.name(), promise_text(h, what),
                              h.payload_bytes, file));
  }
  std::vector<std::uint8_t> out = detail::big_buffer(static_cast<std::size_t>(h.payload_bytes));
  std::size_t got = src.read(out.data(), out.size());
  if (got < out.size()) truncated(src, h, what, got);
  src.expect_end("header promises " + promise_text(h, what));
  return out;
}

const std::vector<std::string>& digit_classes() {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4",
                                                 "5", "6", "7", "8", "9"};
  return names;
}

}  // namespace

IdxImages read_idx_images(const fs::path& path) {
  detail::ByteSource src(path);
  const std::size_t caps[] = {kMaxExamples, kMaxImageSide, kMaxImageSide};
  IdxHeader h = read_header(src, 3, "images", caps, kMaxImageBytes);
  IdxImages out;
  out.pixels = read_payload(src, h, "images");
  out.count = h.dims[0];
  out.rows = h.dims[1];
  out.cols = h.dims[2];
  return out;
}

std::vector<std::int32_t> read_idx_labels(const fs::path& path, std::size_t num_classes) {
  detail::ByteSource src(path);
  const std::size_t caps[] = {kMaxExamples};
  IdxHeader h = read_header(src, 1, "labels", caps, kMaxExamples);
  std::vector<std::uint8_t> raw = read_payload(src, h, "labels");
  std::vector<std::int32_t> out(raw.begin(), raw.end());
  for (std::size_t i = 0; i < out.size(); ++i)
    if (static_cast<std::size_t>(out[i]) >= num_classes)
      throw IoError(fmt::format("{}: label {} at index {} is outside [0, {})", src.name(), out[i],
                                i, num_classes));
  return out;
}

Dataset load_idx(const fs::path& images, const fs::path& labels,
                 std::vector<std::string> class_names) {
  if (class_names.empty()) class_names = digit_classes();
  IdxImages img = read_idx_images(images);
  Dataset d;
  d.name = images.filename().string();
  d.labels = read_idx_labels(labels, class_names.size());
  if (d.labels.size() != img.count)
    throw IoError(fmt::format("{}: holds {} images, but {} holds {} labels", images.string(),
                              img.count, labels.string(), d.labels.size()));
  d.rows = img.rows;
  d.cols = img.cols;
  d.channels = 1;
  d.pixels = std::move(img.pixels);
  d.class_names = std::move(class_names);
  return d;
}

Dataset load_idx_split(const fs::path& dir, std::string_view split,
                       std::vector<std::string> class_names) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test" || split == "t10k") prefix = "t10k";
  else throw ValueError(fmt::format("load_idx_split: split '{}' is not 'train' or 'test'", split));
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw IoError(fmt::format("{}: no such data directory", dir.string()));
  // Prefer the .gz files as distributed; accept uncompressed ones too.
  auto find = [&](const std::string& stem) {
    fs::path gz = dir / (stem + ".gz"), raw = dir / stem;
    if (fs::exists(gz, ec)) return gz;
    if (fs::exists(raw, ec)) return raw;
    throw IoError(fmt::format("{}: neither {}.gz nor {} exists", dir.string(), stem, stem));
  };
  fs::path images = find(prefix + "-images-idx3-ubyte");
  fs::path labels = find(prefix + "-labels-idx1-ubyte");
  Dataset d = load_idx(images, labels, std::move(class_names));
  d.name = fmt::format("{}/{}", dir.filename().string(), split == "t10k" ? "test" : split);
  return d;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

Dataset fashion_mnist(std::string_view split, const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw IoError(fmt::format("{}: no such directory (install the Debian package "
                              "dataset-fashion-mnist, or give another data directory)",
                              dir.string()));
  Dataset d = load_idx_split(dir, split, fashion_mnist_classes());
  d.name = fmt::format("fashion-mnist/{}", split == "t10k" ? "test" : split);
  return d;
}

}  // namespace slope::data
