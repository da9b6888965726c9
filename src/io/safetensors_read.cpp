// Reading safetensors files (the Hugging Face format).
//
// Layout: u64 little-endian N, then N bytes of UTF-8 JSON, then the data buffer:
//   {"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}
// Offsets count from the start of the data buffer; the tensors must tile it
// exactly (sorted by offset: no gap, no overlap, nothing after the last one).
// The reader checks what the reference implementation checks, in its order
// (length field, header cap, UTF-8, JSON, per-tensor sizes, tiling), and is
// stricter where the reference's JSON library is lenient: a repeated key or
// an unknown field is an error rather than silently dropped.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "json.hpp"
#include "safetensors_format.hpp"

namespace slope::io {

namespace fs = std::filesystem;
using st::byte_size;
using st::kPrefixBytes;
using st::shown;
using st::st_name;

namespace {

// One tensor as the header describes it.
struct Entry {
  std::string name;
  DType dtype = DType::u8;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;  // in header order
  std::map<std::string, std::string> metadata;
};

// The length field: returns N after checking it against the cap and the file
// size, both known before anything sized by the file is read.
std::uint64_t check_prefix(const std::uint8_t* p, std::uint64_t file_size, const std::string& origin) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kPrefixBytes; ++i) n |= std::uint64_t{p[i]} << (8 * i);
  if (n > kMaxSafetensorsHeaderBytes)
    throw IoError(fmt::format("{}: header length {} is over the cap of {}", origin, n,
                              kMaxSafetensorsHeaderBytes));
  if (file_size - kPrefixBytes < n)
    throw IoError(fmt::format("{}: truncated: the length field promises {} header bytes, file holds {}",
                              origin, n, file_size - kPrefixBytes));
  std::uint64_t data = file_size - kPrefixBytes - n;
  if (data > kMaxSafetensorsDataBytes)
    throw IoError(fmt::format("{}: data buffer of {} bytes is over the cap of {}", origin, data,
                              kMaxSafetensorsDataBytes));
  return n;
}

void check_short(std::uint64_t file_size, const std::string& origin) {
  if (file_size < kPrefixBytes)
    throw IoError(fmt::format("{}: truncated: {} bytes, a safetensors file needs at least {}",
                              origin, file_size, kPrefixBytes));
}

// Parses the header text and checks each tensor on its own (fields, dtype,
// shape, size). The tiling of the data buffer is check_tiling's.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& origin)
      : text_(text), origin_(origin), r_(text, origin + ": bad safetensors header") {}

  Header parse() {
    std::size_t at = 0;
    if (const char* bad = json::utf8_error(text_, at))
      throw IoError(fmt::format("{}: bad safetensors header: not valid UTF-8: {} (at header byte {})",
                                origin_, bad, at));
    // Like the reference, the object must start at the first byte.
    if (text_.empty() || text_[0] != '{')
      r_.fail("the header is not a JSON object (it must start with '{')");
    r_.object([&](const std::string& key) {
      if (key != "__metadata__") return entry(key);
      if (seen_metadata_) r_.fail("duplicate key '__metadata__'");
      seen_metadata_ = true;
      metadata();
    });
    r_.finish();
    return std::move(h_);
  }

 private:
  void count_entry() {
    if (++entries_ > kMaxCheckpointEntries)
      r_.fail(fmt::format("more than {} tensors and metadata keys", kMaxCheckpointEntries));
  }
  void check_name(const std::string& s, const char* what) {
    if (s.empty()) r_.fail(fmt::format("empty {}", what));
    if (s.size() > kMaxNameBytes)
      r_.fail(fmt::format("{} of {} bytes is over the cap of {}", what, s.size(), kMaxNameBytes));
  }

  void metadata() {
    if (r_.peek() != '{')
      r_.fail(fmt::format("__metadata__ must be an object of strings, got {}", r_.kind()));
    r_.object([&](const std::string& key) {
      check_name(key, "metadata key");
      count_entry();
      if (r_.peek() != '"')
        r_.fail(fmt::format("metadata value {} must be a string, got {}", shown(key), r_.kind()));
      std::string value = r_.string();
      if (value.size() > kMaxMetaBytes)
        r_.fail(fmt::format("metadata value {} is over the cap of {} bytes", shown(key),
                            kMaxMetaBytes));
      if (!h_.metadata.emplace(key, std::move(value)).second)
        r_.fail(fmt::format("duplicate metadata key {}", shown(key)));
    });
  }

  void entry(const std::string& name) {
    check_name(name, "tensor name");
    count_entry();
    if (!names_.insert(name).second) r_.fail(fmt::format("duplicate tensor name {}", shown(name)));
    const std::string t = "tensor " + shown(name);
    if (r_.peek() != '{') r_.fail(fmt::format("{} must be an object, got {}", t, r_.kind()));
    Entry e;
    e.name = name;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    r_.object([&](const std::string& field) {
      auto once = [&](bool& seen) {
        if (seen) r_.fail(fmt::format("{}: duplicate field '{}'", t, field));
        seen = true;
      };
      if (field == "dtype") {
        once(has_dtype);
        e.dtype = dtype(t);
      } else if (field == "shape") {
        once(has_shape);
        if (r_.peek() != '[')
          r_.fail(fmt::format("{}: shape must be an array of non-negative integers, got {}", t,
                              r_.kind()));
        r_.array([&](std::size_t i) {
          if (i == kMaxRank) r_.fail(fmt::format("{}: rank over the cap of {}", t, kMaxRank));
          std::uint64_t d = r_.integer(fmt::format("{}: dimension {} of the shape", t, i));
          if (d > kMaxArrayBytes)
            r_.fail(fmt::format("{}: dimension {} is over the cap of {}", t, d, kMaxArrayBytes));
          e.shape.push_back(static_cast<std::size_t>(d));
        });
      } else if (field == "data_offsets") {
        once(has_offsets);
        offsets(t, e);
      } else {
        r_.fail(fmt::format("{}: unknown field {}", t, shown(field)));
      }
    });
    for (auto [has, field] :
         {std::pair{has_dtype, "dtype"}, {has_shape, "shape"}, {has_offsets, "data_offsets"}})
      if (!has) r_.fail(fmt::format("{}: missing field '{}'", t, field));
    std::optional<std::uint64_t> n = byte_size(e.dtype, e.shape);
    if (!n)
      r_.fail(fmt::format("{}: the byte size of shape {} of {} overflows 64 bits", t,
                          to_string(e.shape), st_name(e.dtype)));
    if (*n > kMaxArrayBytes)
      r_.fail(fmt::format("{}: shape {} of {} is {} bytes, over the cap of {}", t,
                          to_string(e.shape), st_name(e.dtype), *n, kMaxArrayBytes));
    if (e.end - e.begin != *n)
      r_.fail(fmt::format("{}: data_offsets [{}, {}] hold {} bytes, shape {} of {} needs {}", t,
                          e.begin, e.end, e.end - e.begin, to_string(e.shape), st_name(e.dtype), *n));
    h_.entries.push_back(std::move(e));
  }

  DType dtype(const std::string& t) {
    if (r_.peek() != '"') r_.fail(fmt::format("{}: dtype must be a string, got {}", t, r_.kind()));
    std::string s = r_.string();
    for (const st::DTypeName& d : st::kDTypes) {
      if (d.name != s) continue;
      if (!d.dtype) {
        std::string readable;  // from the table, so the message cannot go stale
        for (const st::DTypeName& k : st::kDTypes)
          if (k.dtype) readable.append(readable.empty() ? "" : " ").append(k.name);
        r_.fail(fmt::format("{}: unsupported dtype {} (slope reads {})", t, s, readable));
      }
      return *d.dtype;
    }
    r_.fail(fmt::format("{}: unknown dtype {}", t, shown(s)));
  }

  void offsets(const std::string& t, Entry& e) {
    const std::string want = fmt::format("{}: data_offsets must be an array of 2 integers", t);
    if (r_.peek() != '[') r_.fail(fmt::format("{}, got {}", want, r_.kind()));
    std::size_t count = 0;
    r_.array([&](std::size_t i) {
      if (i == 2) r_.fail(want + ", got more");
      (i == 0 ? e.begin : e.end) = r_.integer(fmt::format("{}: data_offsets[{}]", t, i));
      count = i + 1;
    });
    if (count != 2) r_.fail(fmt::format("{}, got {}", want, count));
    if (e.begin > e.end)
      r_.fail(fmt::format("{}: data_offsets [{}, {}] begin after they end", t, e.begin, e.end));
  }

  std::string_view text_;
  const std::string& origin_;
  json::Reader r_;
  Header h_;
  std::set<std::string> names_;
  std::size_t entries_ = 0;
  bool seen_metadata_ = false;
};

// Sorted by offset, the tensors must cover the data buffer from byte 0 to its
// last byte, each starting where the previous one ends.
void check_tiling(const Header& h, std::uint64_t data_len, const std::string& origin) {
  std::vector<const Entry*> order;
  order.reserve(h.entries.size());
  for (const Entry& e : h.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t at = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin > at)
      throw IoError(fmt::format(
          "{}: tensor {}: data_offsets [{}, {}] leave a gap: no tensor holds data bytes [{}, {})",
          origin, shown(e->name), e->begin, e->end, at, e->begin));
    if (e->begin < at)
      throw IoError(fmt::format(
          "{}: tensor {}: data_offsets [{}, {}] overlap tensor {}, which ends at byte {}", origin,
          shown(e->name), e->begin, e->end, shown(prev->name), at));
    at = e->end;
    prev = e;
  }
  if (at > data_len)
    throw IoError(fmt::format("{}: truncated: the tensors need {} data bytes, file holds {}", origin,
                              at, data_len));
  if (at < data_len)
    throw IoError(fmt::format("{}: {} trailing bytes after the {} data bytes of the tensors", origin,
                              data_len - at, at));
}

// The whole header: parsed, each tensor checked, tiling checked against the
// data buffer's true length. Nothing sized by the data is allocated yet.
Header read_header(std::string_view text, std::uint64_t data_len, const std::string& origin) {
  Header h = HeaderParser(text, origin).parse();
  check_tiling(h, data_len, origin);
  return h;
}

}  // namespace

TensorFile parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& origin) {
  check_short(bytes.size(), origin);
  std::uint64_t n = check_prefix(bytes.data(), bytes.size(), origin);
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + kPrefixBytes), n);
  auto data = bytes.subspan(kPrefixBytes + n);
  Header h = read_header(text, data.size(), origin);
  TensorFile file;
  file.metadata = std::move(h.metadata);
  for (Entry& e : h.entries) {
    auto part = data.subspan(e.begin, e.end - e.begin);
    Array a{e.dtype, std::move(e.shape), std::vector<std::uint8_t>(part.begin(), part.end())};
    file.tensors.emplace(std::move(e.name), std::move(a));
  }
  return file;
}

namespace {

// Closes a descriptor on every way out of load_safetensors.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at `offset`; false if the file ends first.
bool pread_all(int fd, std::uint8_t* p, std::size_t n, std::uint64_t offset, const fs::path& path) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw IoError(fmt::format("{}: cannot read: {}", path.string(), std::strerror(errno)));
    if (r == 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

}  // namespace

TensorFile load_safetensors(const fs::path& path) {
  const std::string origin = path.string();
  // O_NONBLOCK: a FIFO without a writer must be refused, not waited on forever.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) throw IoError(fmt::format("{}: cannot open: {}", origin, std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw IoError(fmt::format("{}: not a regular file", origin));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // The file's size, not its claims, bounds every read: the length field and
  // then the whole header are checked before any tensor data is allocated.
  check_short(size, origin);
  std::uint8_t prefix[kPrefixBytes];
  auto shrank = [&] {
    return IoError(fmt::format("{}: truncated: the file shrank while it was read", origin));
  };
  if (!pread_all(f.fd, prefix, kPrefixBytes, 0, path)) throw shrank();
  std::uint64_t n = check_prefix(prefix, size, origin);
  std::string text(static_cast<std::size_t>(n), '\0');
  if (!pread_all(f.fd, reinterpret_cast<std::uint8_t*>(text.data()), text.size(), kPrefixBytes, path))
    throw shrank();
  Header h = read_header(text, size - kPrefixBytes - n, origin);
  TensorFile file;
  file.metadata = std::move(h.metadata);
  for (Entry& e : h.entries) {
    Array a{e.dtype, std::move(e.shape), std::vector<std::uint8_t>(e.end - e.begin)};
    if (!pread_all(f.fd, a.bytes.data(), a.bytes.size(), kPrefixBytes + n + e.begin, path))
      throw shrank();
    file.tensors.emplace(std::move(e.name), std::move(a));
  }
  // A file that grew while it was read would have failed the tiling check had
  // it been that size from the start; refuse it the same way.
  if (::fstat(f.fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size)
    throw IoError(fmt::format("{}: the file changed size while it was read", origin));
  return file;
}

}  // namespace slope::io
