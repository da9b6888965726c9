// 8-bit images: scaling values to grey levels, tiling, and the PNG encoder.
//
// A PNG file (RFC 2083) is an 8-byte signature, then chunks: a 4-byte
// big-endian length, a 4-byte type, the data, and a CRC-32 of type and data.
// IHDR holds width, height, bit depth (8), colour type (0 grey, 2 RGB),
// compression, filter and interlace method (all 0). IDAT holds the zlib
// stream of the rows, each preceded by its filter byte (0: none). IEND ends.
#include <zlib.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "slope/error.hpp"
#include "slope/io.hpp"
#include "slope/plot.hpp"

namespace slope::plot {

namespace {

// width * height * channels, checked: a product that wraps around could
// otherwise match a small buffer and send the loops far past its end.
std::size_t image_bytes(const char* op, std::size_t width, std::size_t height, std::size_t channels) {
  std::size_t n = 0;
  if (__builtin_mul_overflow(width, height, &n) || __builtin_mul_overflow(n, channels, &n) || n > kMaxImageBytes)
    throw ValueError(fmt::format("{}: a {} x {} x {} image is over the cap of {} bytes", op, width, height,
                                 channels, kMaxImageBytes));
  return n;
}

void check_pixels(const char* op, const Image& image) {
  if (image.channels != 1 && image.channels != 3)
    throw ValueError(fmt::format("{}: images have 1 or 3 channels, got {}", op, image.channels));
  if (image.width == 0 || image.height == 0)
    throw ValueError(fmt::format("{}: empty image ({} x {})", op, image.width, image.height));
  const std::size_t bytes = image_bytes(op, image.width, image.height, image.channels);
  if (image.pixels.size() != bytes)
    throw ValueError(fmt::format("{}: {} pixel bytes for a {} x {} x {} image (expected {})", op,
                                 image.pixels.size(), image.width, image.height, image.channels, bytes));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// Appends length, type, data and CRC-32(type + data).
void put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], std::span<const std::uint8_t> data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, io::crc32(std::span(out).subspan(start)));
}

}  // namespace

Image to_image(std::span<const float> values, std::size_t width, std::size_t height,
               std::size_t channels) {
  Image image{width, height, channels, {}};
  const std::size_t bytes = image_bytes("to_image", width, height, channels);
  if (values.size() != bytes)
    throw ValueError(fmt::format("to_image: {} values for a {} x {} x {} image (expected {})",
                                 values.size(), width, height, channels, bytes));
  float lo = INFINITY, hi = -INFINITY;
  for (float v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  // (v - lo) / (hi - lo) * 255, rounded; non-finite values are black.
  image.pixels.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) image.pixels[i] = 0;
    else if (!(hi > lo)) image.pixels[i] = 128;
    else image.pixels[i] = static_cast<std::uint8_t>(std::lround((double(v) - lo) / (double(hi) - lo) * 255.0));
  }
  check_pixels("to_image", image);
  return image;
}

Image tile(std::span<const Image> images, std::size_t columns, std::size_t pad, std::size_t scale) {
  if (images.empty()) throw ValueError("tile: no images");
  if (columns == 0 || scale == 0)
    throw ValueError(fmt::format("tile: columns and scale must be at least 1, got {} and {}", columns, scale));
  const Image& first = images[0];
  for (std::size_t i = 0; i < images.size(); ++i) {
    check_pixels("tile", images[i]);
    if (images[i].width != first.width || images[i].height != first.height ||
        images[i].channels != first.channels)
      throw ValueError(fmt::format("tile: image {} is {} x {} x {}, image 0 is {} x {} x {}", i,
                                   images[i].width, images[i].height, images[i].channels,
                                   first.width, first.height, first.channels));
  }
  columns = std::min(columns, images.size());
  const std::size_t rows = (images.size() + columns - 1) / columns;
  // Every size below is checked: scale, pad and the image count come from the caller.
  const auto side = [&](std::size_t n, std::size_t extent, std::size_t& scaled) {
    std::size_t total = 0, gaps = 0;
    if (__builtin_mul_overflow(extent, scale, &scaled) || __builtin_mul_overflow(n, scaled, &total) ||
        __builtin_mul_overflow(n - 1, pad, &gaps) || __builtin_add_overflow(total, gaps, &total))
      throw ValueError(fmt::format("tile: {} images of {} x {} in {} columns at scale {} with pad {} "
                                   "overflow 64 bits", images.size(), first.width, first.height, columns, scale,
                                   pad));
    return total;
  };
  std::size_t w = 0, h = 0;
  const std::size_t ch = first.channels;
  Image out{side(columns, first.width, w), side(rows, first.height, h), ch, {}};
  out.pixels.assign(image_bytes("tile", out.width, out.height, ch), 0);  // black between the tiles
  for (std::size_t k = 0; k < images.size(); ++k) {
    const std::size_t ox = (k % columns) * (w + pad), oy = (k / columns) * (h + pad);
    for (std::size_t y = 0; y < h; ++y)
      for (std::size_t x = 0; x < w; ++x)
        for (std::size_t c = 0; c < ch; ++c)  // nearest neighbour: source pixel (x/scale, y/scale)
          out.pixels[((oy + y) * out.width + ox + x) * ch + c] =
              images[k].pixels[((y / scale) * first.width + x / scale) * ch + c];
  }
  return out;
}

std::vector<std::uint8_t> encode_png(const Image& image) {
  check_pixels("encode_png", image);
  if (image.width > 0x7fffffff || image.height > 0x7fffffff)
    throw ValueError(fmt::format("encode_png: {} x {} exceeds PNG's 2^31 - 1 limit", image.width, image.height));
  const std::size_t row = image.width * image.channels;
  std::vector<std::uint8_t> raw;
  raw.reserve(image.height * (row + 1));
  for (std::size_t y = 0; y < image.height; ++y) {
    raw.push_back(0);  // filter type 0: the row as it is
    raw.insert(raw.end(), image.pixels.begin() + static_cast<std::ptrdiff_t>(y * row),
               image.pixels.begin() + static_cast<std::ptrdiff_t>((y + 1) * row));
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> packed(packed_size);
  if (compress2(packed.data(), &packed_size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw ValueError(fmt::format("encode_png: zlib could not compress {} bytes", raw.size()));
  packed.resize(packed_size);

  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> header;
  put_u32(header, static_cast<std::uint32_t>(image.width));
  put_u32(header, static_cast<std::uint32_t>(image.height));
  header.insert(header.end(), {8, static_cast<std::uint8_t>(image.channels == 1 ? 0 : 2), 0, 0, 0});
  put_chunk(out, "IHDR", header);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", {});
  return out;
}

void save_png(const std::filesystem::path& path, const Image& image) {
  io::write_file_atomic(path, encode_png(image));
}

}  // namespace slope::plot
