// Files slope writes and reads back: NumPy .npy arrays, checkpoints and
// safetensors files.
//
// This is the bottom layer of persistence. It knows typed arrays, shapes and
// strings; it does not know models, optimizers or data sets. Higher layers
// put their arrays and settings into a Checkpoint (or a TensorFile) under
// names of their choice.
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
/// Longest safetensors JSON header: the reference implementation's limit, so
/// every file it accepts has a header slope accepts too.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
/// Largest safetensors data buffer (all tensors together), as for a checkpoint
/// payload; a file is at most 8 + kMaxSafetensorsHeaderBytes + this many bytes.
inline constexpr std::uint64_t kMaxSafetensorsDataBytes = kMaxCheckpointBytes;

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

// ---- safetensors (the Hugging Face format) ---------------------------------------

/// Named arrays plus string metadata, as a safetensors file holds them: an
/// 8-byte little-endian header length N, N bytes of JSON
///   {"__metadata__":{"key":"value"},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}
/// padded with spaces, then the data buffer the offsets point into. dtypes
/// F64 F32 I64 I32 U8 map to f64 f32 i64 i32 u8; other safetensors dtypes are
/// refused. Names and keys have 1 to kMaxNameBytes bytes of UTF-8; a name is
/// never "__metadata__"; at most kMaxCheckpointEntries tensors and keys together.
struct TensorFile {
  std::map<std::string, Array> tensors;         // sorted by name
  std::map<std::string, std::string> metadata;  // the "__metadata__" object
};

/// The file image: compact JSON (metadata first, then tensors by name), padded
/// so the data starts at a multiple of 8 bytes, then the tensors' bytes in name
/// order. Equal contents give equal bytes. ValueError on contents no reader
/// would accept (a bad name, bytes that do not match the shape, a cap exceeded).
std::vector<std::uint8_t> serialize_safetensors(const TensorFile& file);
/// Parses a file image as the reference implementation validates it (UTF-8,
/// strict JSON, exact fields, sizes with overflow checks, offsets that tile
/// the data buffer exactly); IoError "<origin>: <what is wrong>" on any defect.
TensorFile parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& origin);
/// Writes serialize_safetensors(file) atomically.
void save_safetensors(const std::filesystem::path& path, const TensorFile& file);
/// Reads and validates the header against the file's size before reading (and
/// allocating) any tensor data; accepts exactly what parse_safetensors accepts.
TensorFile load_safetensors(const std::filesystem::path& path);

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
