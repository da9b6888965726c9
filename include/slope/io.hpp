// Files slope writes and reads back: NumPy .npy arrays and checkpoints.
//
// This is the bottom layer of persistence. It knows typed arrays, shapes and
// strings; it does not know models, optimizers or data sets. Higher layers
// put their arrays and settings into a Checkpoint under names of their choice.
//
// Every reader validates before it allocates (magic, version, caps, sizes with
// overflow checks, checksum, no trailing bytes) and throws slope::IoError with
// a message "<file>: <what is wrong>". Every writer is atomic: it writes a temp
// file in the target's directory, fsyncs it, renames it over the target and
// fsyncs the directory, so a crash leaves either the old file or the new one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "slope/error.hpp"
#include "slope/shape.hpp"

namespace slope::io {

// ---- caps (documented limits every reader enforces) -------------------------

/// Largest rank of an array in a .npy file or a checkpoint.
inline constexpr std::size_t kMaxRank = 8;
/// Largest array payload, in bytes, in a .npy file or a checkpoint entry.
inline constexpr std::uint64_t kMaxArrayBytes = std::uint64_t{1} << 31;  // 2 GiB
/// Largest checkpoint payload (all entries together).
inline constexpr std::uint64_t kMaxCheckpointBytes = std::uint64_t{1} << 32;  // 4 GiB
/// Most arrays plus metadata entries in one checkpoint.
inline constexpr std::size_t kMaxCheckpointEntries = 65536;
/// Longest array name or metadata key.
inline constexpr std::size_t kMaxNameBytes = 4096;
/// Longest metadata value (an Rng state is about 6 KiB of text).
inline constexpr std::size_t kMaxMetaBytes = std::size_t{1} << 24;  // 16 MiB
/// Longest .npy header (version 1.0 stores its length in 16 bits).
inline constexpr std::size_t kMaxNpyHeaderBytes = 65535;

// ---- typed arrays -------------------------------------------------------------

/// Element types slope stores. Values are the on-disk codes of the checkpoint
/// format; never renumber them.
enum class DType : std::uint8_t { u8 = 1, i32 = 2, i64 = 3, f32 = 4, f64 = 5 };

/// Bytes per element.
std::size_t dtype_size(DType t);
/// "u8", "i32", "i64", "f32", "f64".
std::string_view dtype_name(DType t);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

/// A typed, shaped, C-order array as raw little-endian bytes.
struct Array {
  DType dtype = DType::u8;
  Shape shape;                      // () is a scalar with one element
  std::vector<std::uint8_t> bytes;  // numel(shape) * dtype_size(dtype) bytes

  /// Copies `values` in; throws ValueError if their count is not numel(shape).
  template <class T>
  static Array from(std::span<const T> values, Shape shape);
  /// The elements as T; throws ValueError naming both types if T is not dtype.
  template <class T>
  std::vector<T> to_vector() const;
};

// ---- .npy (NumPy format version 1.0) -------------------------------------------

/// Writes `values` (C order, shape `shape`) as a .npy file that numpy.load reads:
/// descr '<f4', '<f8', '<i4', '<i8' or '|u1'. Atomic. ValueError if the count
/// does not match the shape, IoError if the file cannot be written.
template <class T>
void write_npy(const std::filesystem::path& path, std::span<const T> values, const Shape& shape);
void write_npy(const std::filesystem::path& path, const Array& array);

/// Reads a .npy file of version 1.0, 2.0 or 3.0, little-endian (or '|u1'),
/// C order, with one of the five dtypes above. Anything else is an IoError.
Array read_npy(const std::filesystem::path& path);

// ---- checkpoints ------------------------------------------------------------------

/// Named arrays plus string metadata, saved with a magic, a format version and
/// a CRC-32 over the payload. Names and keys are non-empty; entries are kept
/// sorted by name, so the same contents always give the same bytes.
class Checkpoint {
 public:
  /// The on-disk format version this build writes and reads.
  static constexpr std::uint32_t kVersion = 1;

  /// Stores an array under `name`, replacing any previous one.
  void put(const std::string& name, Array array);
  template <class T>
  void put(const std::string& name, std::span<const T> values, Shape shape) {
    put(name, Array::from(values, std::move(shape)));
  }
  /// Stores a string under `key`, replacing any previous one.
  void set_meta(const std::string& key, std::string value);

  bool has(const std::string& name) const { return arrays_.count(name) != 0; }
  bool has_meta(const std::string& key) const { return meta_.count(key) != 0; }
  /// The array under `name`; ValueError "checkpoint: no array 'name'" if absent.
  const Array& array(const std::string& name) const;
  /// The elements of `name` as T; ValueError if absent or of another dtype, or
  /// (when `shape` is given) of another shape.
  template <class T>
  std::vector<T> get(const std::string& name, const Shape* shape = nullptr) const;
  /// The metadata value under `key`; ValueError if absent.
  const std::string& meta(const std::string& key) const;

  const std::map<std::string, Array>& arrays() const { return arrays_; }
  const std::map<std::string, std::string>& metadata() const { return meta_; }

  /// The file image: header then payload (see checkpoint.cpp for the layout).
  std::vector<std::uint8_t> serialize() const;
  /// Parses a file image; IoError naming `origin` on any defect.
  static Checkpoint deserialize(std::span<const std::uint8_t> bytes, const std::string& origin);

  /// Writes atomically; the previous file at `path` survives any crash.
  void save(const std::filesystem::path& path) const;
  /// Reads and validates a file written by save().
  static Checkpoint load(const std::filesystem::path& path);

 private:
  std::map<std::string, Array> arrays_;
  std::map<std::string, std::string> meta_;
};

// ---- file helpers -----------------------------------------------------------------

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync dir).
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);
/// Reads a whole file, refusing (before allocating) one larger than `max_bytes`.
std::vector<std::uint8_t> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);
/// A gzip stream (RFC 1952) of `bytes`, as `gzip` would write; for .gz exports.
std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes, int level = 6);
/// CRC-32 (the zlib / PNG / gzip polynomial) of `bytes`.
std::uint32_t crc32(std::span<const std::uint8_t> bytes);

}  // namespace slope::io
