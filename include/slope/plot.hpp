// Pictures: standalone SVG figures (lines, scatter, contours, filled class
// regions, histograms) and PNG images (weight templates). Nothing here knows
// about tensors or training: a figure takes plain numbers, so the layers above
// (examples, the `slope plot` command) decide what to draw.
//
// An SVG opens in any browser and renders on a code host; every file is
// written atomically (temporary file, then rename), so a crash never leaves a
// half-written picture.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slope::plot {

/// How a series is drawn. An empty colour takes the next one of the palette.
struct Style {
  std::string color;       // any SVG colour: "#1f77b4", "crimson"
  double width = 1.8;      // stroke width in pixels
  bool dashed = false;
  bool markers = false;    // a dot at every point (lines), always on for scatter
  double marker_size = 3.0;
  double opacity = 1.0;
};

/// One chart: axes with ticks, a title, axis labels, a legend for labelled
/// series, then any number of layers drawn in the order they were added.
/// Axis ranges are fitted to the data unless set (x exactly; y with 4% air
/// each side, none below a range starting at 0 or around a grid from
/// contour/regions); log axes skip values <= 0.
class Figure {
 public:
  explicit Figure(std::string title = "", double width = 640, double height = 440);

  Figure& xlabel(std::string text);
  Figure& ylabel(std::string text);
  Figure& xlim(double lo, double hi);
  Figure& ylim(double lo, double hi);
  Figure& log_x(bool on = true);
  Figure& log_y(bool on = true);

  /// A polyline through (x[i], y[i]); non-finite points break the line.
  /// ValueError if x and y differ in length.
  Figure& line(std::span<const double> x, std::span<const double> y, std::string label = "",
               Style style = {});
  /// y against 0, 1, 2, ...
  Figure& line(std::span<const double> y, std::string label = "", Style style = {});
  /// Dots at (x[i], y[i]).
  Figure& scatter(std::span<const double> x, std::span<const double> y, std::string label = "",
                  Style style = {});
  /// Iso-lines of z sampled on a regular grid: z has ny rows of nx values,
  /// row r at y = y0 + r*(y1-y0)/(ny-1), column c at x = x0 + c*(x1-x0)/(nx-1)
  /// (marching squares). `levels` empty: 12 levels spread over z's range.
  Figure& contour(std::span<const double> z, std::size_t nx, std::size_t ny, double x0, double x1,
                  double y0, double y1, std::vector<double> levels = {});
  /// Filled cells of a class map on the same kind of grid: cell value k >= 0
  /// is painted in palette colour k at `opacity` (decision regions).
  Figure& regions(std::span<const int> classes, std::size_t nx, std::size_t ny, double x0,
                  double x1, double y0, double y1, double opacity = 0.25);
  /// Histogram of `values` in `bins` equal bins over their range (or over
  /// [lo, hi] when lo < hi); bars are translucent so two can overlap.
  Figure& histogram(std::span<const double> values, std::size_t bins, std::string label = "",
                    Style style = {}, double lo = 0.0, double hi = 0.0);
  /// A horizontal or vertical reference line across the plot.
  Figure& hline(double y, std::string label = "", Style style = {});
  Figure& vline(double x, std::string label = "", Style style = {});
  /// A short text at data coordinates (x, y).
  Figure& text(double x, double y, std::string text);

  /// The whole picture as an SVG document.
  std::string svg() const;
  /// Writes svg() to `path` atomically; IoError naming the path on failure.
  void save(const std::filesystem::path& path) const;

  struct Layer;  // defined in the implementation

 private:
  friend std::string svg_grid(std::span<const Figure> figures, std::size_t columns);
  /// Appends this figure as an <svg> element at (x, y); `id` names its clip
  /// path, unique within the document. `root`: the outermost element.
  void render(std::string& out, const std::string& id, double x, double y, bool root) const;

  std::string title_, xlabel_, ylabel_;
  double width_, height_;
  double xlim_[2] = {0, 0}, ylim_[2] = {0, 0};  // lo < hi when set
  bool log_x_ = false, log_y_ = false;
  std::vector<std::shared_ptr<const Layer>> layers_;
  std::size_t next_color_ = 0;
};

/// The palette colour k (cycles through 10 distinct colours).
std::string palette(std::size_t k);

/// Several figures side by side in one SVG, `columns` per row.
std::string svg_grid(std::span<const Figure> figures, std::size_t columns);
void save_grid(const std::filesystem::path& path, std::span<const Figure> figures,
               std::size_t columns);

/// The largest image (width x height x channels bytes) to_image, tile and
/// encode_png make or take: 1 GiB; ValueError above it.
inline constexpr std::size_t kMaxImageBytes = std::size_t{1} << 30;

/// An 8-bit image, row-major, 1 (grey) or 3 (RGB) channels interleaved.
struct Image {
  std::size_t width = 0, height = 0, channels = 1;
  std::vector<std::uint8_t> pixels;  // height * width * channels
};

/// Maps `values` (height * width * channels, interleaved) linearly from their
/// own [min, max] to [0, 255] (a constant image becomes mid-grey).
Image to_image(std::span<const float> values, std::size_t width, std::size_t height,
               std::size_t channels = 1);
/// Tiles equally sized images in a grid `columns` wide with `pad` black pixels
/// between them, optionally upscaled by an integer `scale` (nearest neighbour).
/// ValueError if the images differ in size or channels, or if the tiled
/// image's size overflows or is over kMaxImageBytes.
Image tile(std::span<const Image> images, std::size_t columns, std::size_t pad = 2,
           std::size_t scale = 1);
/// A PNG file (zlib-compressed, CRC-checked chunks) written atomically.
void save_png(const std::filesystem::path& path, const Image& image);
/// The PNG bytes of `image` (what save_png writes).
std::vector<std::uint8_t> encode_png(const Image& image);

}  // namespace slope::plot
