// Text for the SVG: escaping, short numbers, the palette, and axis ticks.
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "plot_internal.hpp"

namespace slope::plot {

std::string palette(std::size_t k) {
  // Ten colours that stay distinct on white and for the common colour-vision
  // deficiencies when used in order.
  static constexpr std::array<const char*, 10> colours = {
      "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colours[k % colours.size()];
}

void Figure::Layer::swatch(double x, double y, std::string& out) const {
  out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>)", detail::num(x),
                     detail::num(y), detail::num(x + 20), detail::num(y),
                     detail::stroke_attrs(style));
}

}  // namespace slope::plot

namespace slope::plot::detail {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters other than tab, newline, return.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
          out += '?';
        else
          out += ch;
    }
  }
  return out;
}

std::string num(double v) {
  std::string s = fmt::format("{:.1f}", v);
  return s == "-0.0" ? "0.0" : s;
}

std::string stroke_attrs(const Style& style) {
  std::string out = fmt::format(R"(stroke="{}" stroke-width="{:g}")", escape(style.color), style.width);
  if (style.dashed) out += R"( stroke-dasharray="6 4")";
  if (style.opacity != 1.0) out += fmt::format(R"( stroke-opacity="{:g}")", style.opacity);
  return out;
}

namespace {

// 1, 2 or 5 times a power of ten, the one nearest above `raw`.
double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) return {lo};
  const double step = nice_step(span / std::max(target, 1));
  std::vector<double> out;
  const double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  for (double k = k0; k <= k1 && out.size() < 100; ++k) {
    const double v = k * step;
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);  // no "-0"
  }
  return out;
}

// "1e-05" -> "1e-5", "1.2e+06" -> "1.2e6".
std::string compact(double v) {
  std::string s = fmt::format("{:g}", v);
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent = exponent.substr(exponent[0] == '-' || exponent[0] == '+' ? 1 : 0);
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

}  // namespace

std::vector<double> ticks(double lo, double hi, bool log, int target) {
  if (!log) return linear_ticks(lo, hi, target);
  const double a = std::log10(lo), b = std::log10(hi);
  const double e0 = std::ceil(a - 1e-9), e1 = std::floor(b + 1e-9);
  std::vector<double> out;
  if (e1 - e0 + 1 >= 2) {
    // Powers of ten; every stride-th one when there are many decades.
    const double stride = std::max(1.0, std::ceil((e1 - e0 + 1) / std::max(target, 1)));
    for (double e = std::ceil(e0 / stride) * stride; e <= e1; e += stride)
      out.push_back(std::pow(10.0, e));
    return out;
  }
  // Under two powers of ten in range: 1, 2 and 5 times each power.
  for (double e = std::floor(a); e <= std::ceil(b); ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push_back(v);
    }
  return out.size() >= 2 ? out : linear_ticks(lo, hi, target);
}

std::vector<std::string> tick_labels(const std::vector<double>& ticks, bool log) {
  std::vector<std::string> out;
  double step = 0, biggest = 0;
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    biggest = std::max(biggest, std::abs(ticks[i]));
    if (i > 0) step = i == 1 ? ticks[1] - ticks[0] : std::min(step, ticks[i] - ticks[i - 1]);
  }
  const bool exponents = log || biggest >= 1e6 || step <= 0 || step < 1e-4;
  // As many decimals as the spacing needs: step 0.2 -> 1, step 0.05 -> 2.
  const int decimals = step > 0 ? std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))) : 0;
  for (double v : ticks)
    out.push_back(exponents ? compact(v) : fmt::format("{:.{}f}", v, decimals));
  return out;
}

double text_width(std::string_view text, double font_size) {
  std::size_t chars = 0;
  for (char ch : text)
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++chars;  // count UTF-8 code points
  return 0.6 * font_size * static_cast<double>(chars);
}

}  // namespace slope::plot::detail
