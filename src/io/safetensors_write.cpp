// Writing safetensors files (the Hugging Face format); the layout is in
// safetensors_read.cpp. The writer emits what the reference writer emits:
// compact JSON, "__metadata__" first, fields in the order dtype, shape,
// data_offsets, space padding to an 8-byte boundary; tensors by name.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "json.hpp"
#include "safetensors_format.hpp"

namespace slope::io {

namespace fs = std::filesystem;
using st::kPrefixBytes;
using st::byte_size;
using st::shown;
using st::st_name;

namespace {

// The writer's checks mirror the reader's, so that serialize_safetensors only
// ever produces files that parse_safetensors accepts.
void check_text(const std::string& s, const char* what, std::size_t min, std::size_t cap) {
  if (s.size() < min || s.size() > cap)
    throw ValueError(fmt::format("serialize_safetensors: a {} must have {} to {} bytes, got {}",
                                 what, min, cap, s.size()));
  std::size_t at = 0;
  if (const char* bad = json::utf8_error(s, at))
    throw ValueError(fmt::format("serialize_safetensors: {} {} is not valid UTF-8: {} (at byte {})",
                                 what, shown(s), bad, at));
}

void check_array(const std::string& name, const Array& a) {
  check_text(name, "tensor name", 1, kMaxNameBytes);
  if (name == "__metadata__")
    throw ValueError("serialize_safetensors: '__metadata__' is the metadata's key, not a tensor name");
  const std::string_view dt = st_name(a.dtype);
  if (a.shape.size() > kMaxRank)
    throw ValueError(fmt::format("serialize_safetensors: tensor {} has rank {}, over the cap of {}",
                                 shown(name), a.shape.size(), kMaxRank));
  for (std::size_t d : a.shape)
    if (d > kMaxArrayBytes)
      throw ValueError(fmt::format(
          "serialize_safetensors: tensor {} has dimension {}, over the cap of {}", shown(name), d,
          kMaxArrayBytes));
  std::optional<std::uint64_t> n = byte_size(a.dtype, a.shape);
  if (!n || *n > kMaxArrayBytes)
    throw ValueError(fmt::format(
        "serialize_safetensors: tensor {} of shape {} is over the cap of {} bytes", shown(name),
        to_string(a.shape), kMaxArrayBytes));
  if (a.bytes.size() != *n)
    throw ValueError(fmt::format("serialize_safetensors: tensor {} has {} bytes for shape {} of {}",
                                 shown(name), a.bytes.size(), to_string(a.shape), dt));
}

}  // namespace

std::vector<std::uint8_t> serialize_safetensors(const TensorFile& file) {
  if (file.tensors.size() + file.metadata.size() > kMaxCheckpointEntries)
    throw ValueError(fmt::format(
        "serialize_safetensors: {} tensors and {} metadata keys, over the cap of {}",
        file.tensors.size(), file.metadata.size(), kMaxCheckpointEntries));
  // Compact JSON in the reference writer's field order; maps iterate by name.
  std::string h = "{";
  if (!file.metadata.empty()) {
    h += "\"__metadata__\":{";
    for (const auto& [key, value] : file.metadata) {
      check_text(key, "metadata key", 1, kMaxNameBytes);
      check_text(value, "metadata value", 0, kMaxMetaBytes);
      if (h.back() != '{') h += ',';
      json::append_string(h, key);
      h += ':';
      json::append_string(h, value);
    }
    h += '}';
  }
  std::uint64_t offset = 0;
  for (const auto& [name, a] : file.tensors) {
    check_array(name, a);
    if (h.size() > 1) h += ',';
    json::append_string(h, name);
    h += fmt::format(":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                     st_name(a.dtype), fmt::join(a.shape, ","), offset, offset + a.bytes.size());
    offset += a.bytes.size();  // at most 65536 x 2 GiB: no overflow
  }
  h += '}';
  // Space padding, as the format allows, so the data starts 8-byte aligned
  // (the prefix is 8 bytes) and a reader may map f64 tensors in place.
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kMaxSafetensorsHeaderBytes)
    throw ValueError(fmt::format("serialize_safetensors: a header of {} bytes is over the cap of {}",
                                 h.size(), kMaxSafetensorsHeaderBytes));
  if (offset > kMaxSafetensorsDataBytes)
    throw ValueError(fmt::format("serialize_safetensors: {} data bytes are over the cap of {}", offset,
                                 kMaxSafetensorsDataBytes));

  std::vector<std::uint8_t> out;
  out.reserve(kPrefixBytes + h.size() + offset);
  for (std::size_t i = 0; i < kPrefixBytes; ++i)
    out.push_back(static_cast<std::uint8_t>(std::uint64_t{h.size()} >> (8 * i)));
  out.insert(out.end(), h.begin(), h.end());
  for (const auto& [name, a] : file.tensors) out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

void save_safetensors(const fs::path& path, const TensorFile& file) {
  write_file_atomic(path, serialize_safetensors(file));
}

}  // namespace slope::io
