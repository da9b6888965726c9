// What the plot sources share: the layer interface, the mapping from data to
// pixels, and the small formatting helpers that keep the SVG short and valid.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "slope/plot.hpp"

namespace slope::plot::detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Where a value sits along an axis: log10(v) on a log axis, v otherwise;
/// NaN for a value the axis cannot show (non-finite, or <= 0 on a log axis).
inline double axis_value(double v, bool log) {
  if (!std::isfinite(v) || (log && v <= 0)) return kNaN;
  return log ? std::log10(v) : v;
}

/// The smallest interval holding every value added that the axis can show.
struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v, bool log) {
    if (std::isnan(axis_value(v, log))) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

/// Data coordinates to pixels: the plot area's rectangle and the visible
/// range in axis units (log10 on log axes). y grows upwards in the data and
/// downwards on screen. Values an axis cannot show map to NaN.
struct Frame {
  double left = 0, top = 0, width = 1, height = 1;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  bool log_x = false, log_y = false;
  double px(double x) const { return left + (axis_value(x, log_x) - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + height - (axis_value(y, log_y) - y0) / (y1 - y0) * height; }
  double bottom() const { return top + height; }
  double right() const { return left + width; }
};

/// Text made safe for XML content and attribute values (&, <, >, quotes;
/// control characters XML 1.0 forbids become '?').
std::string escape(std::string_view text);
/// A pixel coordinate with one decimal: short files, sub-pixel precision.
std::string num(double v);
/// Stroke attributes of a style in colour `color`: stroke, width, dashes, opacity.
std::string stroke_attrs(const Style& style);
/// Tick positions (data units) for [lo, hi]: multiples of 1, 2 or 5 times a
/// power of ten on a linear axis, about `target` of them; powers of ten on a
/// log axis (with 2 and 5 between them when the range spans under a decade).
std::vector<double> ticks(double lo, double hi, bool log, int target);
/// Short labels for a set of ticks: as many decimals as their spacing needs,
/// exponents ("1e-4", "2e6") for very small or large values.
std::vector<std::string> tick_labels(const std::vector<double>& ticks, bool log);
/// Width of `text` in pixels at `font_size`, estimated (no font metrics).
double text_width(std::string_view text, double font_size);

}  // namespace slope::plot::detail

namespace slope::plot {

/// A layer of a figure: it widens the fitted axis ranges, draws itself into
/// the clipped plot area, and draws its sample in the legend.
struct Figure::Layer {
  std::string label;  // empty: not in the legend
  Style style;

  virtual ~Layer() = default;
  /// Adds the coordinates this layer shows to the x and y ranges.
  virtual void extent(detail::Range& x, detail::Range& y, bool log_x, bool log_y) const = 0;
  /// Appends the layer's SVG elements.
  virtual void draw(const detail::Frame& f, std::string& out) const = 0;
  /// Appends the legend sample: a 20-pixel-wide swatch from (x, y) rightwards.
  virtual void swatch(double x, double y, std::string& out) const;
  /// True for a layer that fills its grid (regions, contours): the fitted
  /// axes then end at the grid, with no air around the data.
  virtual bool fills_grid() const { return false; }
};

}  // namespace slope::plot

namespace slope::plot::detail {

using LayerPtr = std::shared_ptr<const Figure::Layer>;

LayerPtr make_line(std::vector<double> x, std::vector<double> y, std::string label, Style style);
LayerPtr make_scatter(std::vector<double> x, std::vector<double> y, std::string label, Style style);
LayerPtr make_rule(bool horizontal, double at, std::string label, Style style);
LayerPtr make_text(double x, double y, std::string text);
LayerPtr make_histogram(std::vector<std::size_t> counts, double lo, double hi, std::string label,
                        Style style);
LayerPtr make_regions(std::vector<int> classes, std::size_t nx, std::size_t ny, double x0,
                      double x1, double y0, double y1, double opacity);
LayerPtr make_contour(std::vector<double> z, std::size_t nx, std::size_t ny, double x0, double x1,
                      double y0, double y1, std::vector<double> levels);

}  // namespace slope::plot::detail
