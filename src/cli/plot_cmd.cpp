// slope plot: pictures of what slope train writes.
//   curves     per-epoch metrics (--metrics FILE) of one or more runs, as lines
//   templates  the columns of a weight matrix (--export DIR: W1.npy) as images
//   histogram  the values of one or more weight arrays
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "slope/io.hpp"
#include "slope/plot.hpp"

namespace slope::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPlotUsage = R"(usage: slope plot SUBCOMMAND FILE... [options]

Draw what slope train writes.

subcommands:
  curves     per-epoch metrics (slope train --metrics FILE) of runs, one line per file (SVG)
  templates  each column of a weight matrix (slope train --export DIR: W1.npy) as an image (PNG)
  histogram  the distribution of the values of weight arrays (SVG)

Run 'slope plot SUBCOMMAND --help' for the options of a subcommand.
)";

// The positional arguments (files) and the options, parsed by Args.
struct Parsed {
  std::vector<std::string> files;
  Args args;
};

Parsed parse(int argc, char** argv, const std::vector<OptionSpec>& specs, const std::string& name) {
  // An argument is a file unless it is an option or the value of one.
  std::vector<std::string> files;
  std::vector<char*> options = {argv[0]};
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("-", 0) != 0 || arg == "-") {
      files.push_back(arg);
      continue;
    }
    options.push_back(argv[i]);
    const std::string key = arg.substr(arg.rfind("--", 0) == 0 ? 2 : 1);
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == key; });
    if (spec != specs.end() && !spec->value.empty() && i + 1 < argc) options.push_back(argv[++i]);
  }
  return {files, Args(static_cast<int>(options.size()), options.data(), 1, specs, name)};
}

std::string required(const Args& args, const std::string& name) {
  if (!args.has(name) || args.get(name).empty()) throw UsageError(fmt::format("--{} is required", name));
  return args.get(name);
}

void check_inputs(const std::vector<std::string>& files, std::size_t most) {
  if (files.empty()) throw UsageError("no input file given");
  if (files.size() > most)
    throw UsageError(fmt::format("expected at most {} input file, got {}", most, files.size()));
  for (const auto& f : files) {
    std::error_code ec;  // the error_code form: no filesystem_error text for a name too long
    const fs::file_status st = fs::status(f, ec);
    if (!fs::exists(st)) throw UsageError(fmt::format("input file '{}' does not exist{}", f,
                                                      ec && ec != std::errc::no_such_file_or_directory
                                                          ? " (" + ec.message() + ")" : ""));
    if (!fs::is_regular_file(st)) throw UsageError(fmt::format("input file '{}' is not a regular file", f));
  }
}

// One label per file: its stem, or parent/stem when two stems are the same.
std::vector<std::string> series_labels(const std::vector<std::string>& files) {
  std::vector<std::string> labels;
  for (const auto& f : files) labels.push_back(fs::path(f).stem().string());
  if (std::set<std::string>(labels.begin(), labels.end()).size() == labels.size()) return labels;
  labels.clear();
  for (const auto& f : files) {
    std::error_code ec;
    fs::path p = fs::absolute(f, ec);
    if (ec) p = f;
    labels.push_back((p.parent_path().filename() / p.stem()).string());
  }
  return labels;
}

// ---- curves -----------------------------------------------------------------------

// A flat JSON object, one per line, as slope train --metrics writes it:
// numbers by key; null, strings and booleans count as NaN, nested values are skipped.
std::map<std::string, double> parse_json_line(const std::string& s, const std::string& where) {
  std::size_t i = 0;
  const auto fail = [&](const std::string& what) -> void {
    throw IoError(fmt::format("{}: {} at column {}", where, what, i + 1));
  };
  const auto ws = [&] { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; };
  const auto string = [&] {
    if (i >= s.size() || s[i] != '"') fail("expected a string");
    std::string out;
    for (++i; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && ++i >= s.size()) break;
      out += s[i];
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  };
  std::map<std::string, double> out;
  ws();
  if (i >= s.size() || s[i] != '{') fail("expected '{'");
  ++i;
  ws();
  if (i < s.size() && s[i] == '}') return out;
  for (;;) {
    ws();
    const std::string key = string();
    ws();
    if (i >= s.size() || s[i] != ':') fail("expected ':'");
    ++i;
    ws();
    double value = NAN;
    if (i < s.size() && s[i] == '"') {
      string();
    } else if (i < s.size() && (s[i] == '{' || s[i] == '[')) {  // skip a nested value
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '"') string(), --i;
        else if (s[i] == '{' || s[i] == '[') ++depth;
        else if ((s[i] == '}' || s[i] == ']') && --depth == 0) break;
      }
      if (i >= s.size()) fail("unterminated value");
      ++i;
    } else {
      const std::size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      const std::string token = s.substr(start, i - start);
      char* end = nullptr;
      if (token != "null" && token != "true" && token != "false") {
        value = std::strtod(token.c_str(), &end);
        if (token.empty() || *end) fail(fmt::format("bad value '{}' of \"{}\"", token, key));
      }
    }
    out[key] = value;
    ws();
    if (i < s.size() && s[i] == ',') { ++i; continue; }
    if (i < s.size() && s[i] == '}') break;
    fail("expected ',' or '}'");
  }
  return out;
}

int curves(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"y", "KEY", "the metric to draw, e.g. data_loss, val_accuracy or lr", ""},
      {"x", "KEY", "the metric along the x axis", "epoch"},
      {"out", "FILE", "the SVG file to write", ""},
      {"log-y", "", "a logarithmic y axis", ""},
      {"title", "TEXT", "the title", "the y key"},
  };
  auto [files, args] = parse(argc, argv, specs, "plot curves");
  if (args.help()) {
    fmt::print("{}", usage("plot curves FILE.jsonl [FILE2.jsonl ...]",
                           "Draw a metric of every epoch from files written by slope train --metrics,\n"
                           "one line per file, labelled by the file name.", specs));
    return 0;
  }
  const std::string y_key = required(args, "y"), x_key = args.get("x", "epoch"), out = required(args, "out");
  check_inputs(files, 64);
  check_paths(args, {{"out", PathKind::output_file}});
  check_not_input(out, files);

  plot::Figure fig(args.get("title", y_key));
  fig.xlabel(x_key).ylabel(y_key).log_y(args.has("log-y"));
  const auto labels = series_labels(files);
  std::size_t points = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f]);
    if (!in) throw IoError(fmt::format("{}: cannot open", files[f]));
    std::vector<double> xs, ys;
    std::set<std::string> keys;
    std::size_t lineno = 0;
    for (std::string line; std::getline(in, line);) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const auto row = parse_json_line(line, fmt::format("{}:{}", files[f], lineno));
      for (const auto& [k, v] : row) keys.insert(k);
      const auto x = row.find(x_key), y = row.find(y_key);
      xs.push_back(x == row.end() ? NAN : x->second);
      ys.push_back(y == row.end() ? NAN : y->second);
    }
    if (xs.empty()) throw IoError(fmt::format("{}: no JSON lines", files[f]));
    for (const auto* key : {&x_key, &y_key})
      if (!keys.count(*key))
        throw UsageError(fmt::format("--{}: '{}' has no key '{}' (it has: {})", key == &x_key ? "x" : "y",
                                     files[f], *key, fmt::join(keys, ", ")));
    fig.line(xs, ys, labels[f], {.markers = xs.size() <= 30});
    points += xs.size();
  }
  fig.save(out);
  fmt::print("slope plot curves: {} against {}, {} runs, {} points -> {}\n", y_key, x_key, files.size(),
             points, out);
  return 0;
}

// ---- templates and histograms -----------------------------------------------------

// The array's values as doubles; IoError naming the file for an unsupported dtype.
std::vector<double> values_of(const io::Array& a, const std::string& file) {
  switch (a.dtype) {
    case io::DType::f32: { auto v = a.to_vector<float>(); return {v.begin(), v.end()}; }
    case io::DType::f64: return a.to_vector<double>();
    case io::DType::i32: { auto v = a.to_vector<std::int32_t>(); return {v.begin(), v.end()}; }
    case io::DType::i64: { auto v = a.to_vector<std::int64_t>(); return {v.begin(), v.end()}; }
    case io::DType::u8: { auto v = a.to_vector<std::uint8_t>(); return {v.begin(), v.end()}; }
  }
  throw IoError(fmt::format("{}: unsupported dtype", file));
}

// "28x28x1" -> {28, 28, 1}: rows, columns, channels (1 or 3).
std::array<std::size_t, 3> image_shape(const Args& args, std::size_t d) {
  if (!args.has("image")) {
    if (d == 784) return {28, 28, 1};
    if (d == 3072) return {32, 32, 3};
    const auto side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(d))));
    if (side * side == d) return {side, side, 1};
    throw UsageError(fmt::format("--image: cannot guess the image shape of {} values per column; give "
                                 "--image HxWxC", d));
  }
  const std::string v = args.get("image");
  const auto bad = [&] {
    return UsageError(fmt::format("--image: expected HxWxC with C 1 or 3, like 28x28x1, got '{}'", v));
  };
  std::array<std::size_t, 3> s{};
  const char* p = v.data();
  const char* const end = v.data() + v.size();
  for (std::size_t k = 0; k < 3; ++k) {  // digits only: no sign, no space, no wrap-around
    const auto [q, ec] = std::from_chars(p, end, s[k]);
    if (ec != std::errc() || q == p || (k < 2 ? q == end || *q != 'x' : q != end)) throw bad();
    p = q + 1;
  }
  if (s[0] == 0 || s[1] == 0 || (s[2] != 1 && s[2] != 3)) throw bad();
  // H x W x C must be the column's length exactly, computed without wrapping
  // around (16x1152921504606847025x1 is 784 modulo 2^64).
  std::size_t n = 0;
  if (__builtin_mul_overflow(s[0], s[1], &n) || __builtin_mul_overflow(n, s[2], &n) || n != d)
    throw UsageError(fmt::format("--image: {} does not hold the {} values of each column of the weights", v, d));
  return s;
}

int templates(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"out", "FILE", "the PNG file to write", ""},
      {"image", "HxWxC", "the shape of one column as an image", "28x28x1 for 784 rows, 32x32x3 for 3072"},
      {"columns", "N", "images per row", "5"},
      {"scale", "N", "pixels per weight", "3"},
  };
  auto [files, args] = parse(argc, argv, specs, "plot templates");
  if (args.help()) {
    fmt::print("{}", usage("plot templates WEIGHTS.npy",
                           "Draw every column of a (D, C) weight matrix (slope train --export DIR:\n"
                           "W1.npy) as an image, scaled from its own minimum (black) to maximum\n"
                           "(white): a linear classifier's class templates.", specs));
    return 0;
  }
  const std::string out = required(args, "out");
  const auto columns = static_cast<std::size_t>(args.integer("columns", 5, 1, 1000));
  const auto scale = static_cast<std::size_t>(args.integer("scale", 3, 1, 64));
  check_inputs(files, 1);
  check_paths(args, {{"out", PathKind::output_file}});
  check_not_input(out, files);
  const io::Array w = io::read_npy(files[0]);
  if (w.shape.size() != 2)
    throw IoError(fmt::format("{}: expected a (D, C) weight matrix, got shape {}", files[0], to_string(w.shape)));
  const std::size_t d = w.shape[0], c = w.shape[1];
  const auto [h, wd, ch] = image_shape(args, d);
  const std::vector<double> v = values_of(w, files[0]);
  std::vector<plot::Image> images;
  for (std::size_t k = 0; k < c; ++k) {
    // Column k, element (row, col, channel) as an interleaved pixel. slope
    // stores colour images as planes (CIFAR-10: all red, then green, then blue).
    std::vector<float> pixels(d);
    for (std::size_t p = 0; p < h * wd; ++p)
      for (std::size_t q = 0; q < ch; ++q)
        pixels[p * ch + q] = static_cast<float>(v[(q * h * wd + p) * c + k]);
    images.push_back(plot::to_image(pixels, wd, h, ch));
  }
  plot::Image tiled;
  try {
    tiled = plot::tile(images, columns, 2, scale);
  } catch (const ValueError& e) {  // the size of the picture: the options chose it
    throw UsageError(fmt::format("--scale {} and --columns {}: {}", scale, columns, e.what()));
  }
  plot::save_png(out, tiled);
  fmt::print("slope plot templates: {} images of {}x{}x{} -> {} ({} x {} pixels)\n", c, h, wd, ch, out,
             tiled.width, tiled.height);
  return 0;
}

int histogram(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"out", "FILE", "the SVG file to write", ""},
      {"bins", "N", "bins over the range of all values", "60"},
      {"log-y", "", "a logarithmic count axis", ""},
      {"title", "TEXT", "the title", "the files' names"},
  };
  auto [files, args] = parse(argc, argv, specs, "plot histogram");
  if (args.help()) {
    fmt::print("{}", usage("plot histogram WEIGHTS.npy [MORE.npy ...]",
                           "Draw the distribution of the values in .npy arrays (slope train --export),\n"
                           "overlaid over one common range.", specs));
    return 0;
  }
  const std::string out = required(args, "out");
  const auto bins = static_cast<std::size_t>(args.integer("bins", 60, 1, 100000));
  check_inputs(files, 16);
  check_paths(args, {{"out", PathKind::output_file}});
  check_not_input(out, files);
  std::vector<std::vector<double>> all;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& f : files) {
    all.push_back(values_of(io::read_npy(f), f));
    for (double x : all.back())
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  }
  if (!(lo <= hi)) throw IoError(fmt::format("{}: no finite values", fmt::join(files, ", ")));
  const auto labels = series_labels(files);
  plot::Figure fig(args.get("title", fmt::format("{}", fmt::join(labels, ", "))));
  fig.xlabel("value").ylabel("count").log_y(args.has("log-y"));
  for (std::size_t i = 0; i < files.size(); ++i) {
    double sum = 0, sq = 0;
    for (double x : all[i]) sum += x, sq += x * x;
    const double n = static_cast<double>(all[i].size()), mean = sum / n;
    const std::string label = fmt::format("{} (n {}, mean {:.3g}, std {:.3g})", labels[i], all[i].size(), mean,
                                          std::sqrt(std::max(0.0, sq / n - mean * mean)));
    fig.histogram(all[i], bins, label, {}, lo < hi ? lo : lo - 0.5, lo < hi ? hi : hi + 0.5);
  }
  fig.save(out);
  fmt::print("slope plot histogram: {} arrays, {} bins over [{:.4g}, {:.4g}] -> {}\n", files.size(), bins, lo, hi,
             out);
  return 0;
}

}  // namespace

int plot_command(int argc, char** argv) {
  const std::string sub = argc > 2 ? argv[2] : "";
  if (sub == "--help" || sub == "-h" || sub == "help") {
    fmt::print("{}", kPlotUsage);
    return 0;
  }
  if (sub == "curves") return curves(argc, argv);
  if (sub == "templates") return templates(argc, argv);
  if (sub == "histogram") return histogram(argc, argv);
  if (sub.empty()) throw UsageError("a subcommand is required: curves, templates or histogram");
  throw UsageError(fmt::format("unknown subcommand '{}' (expected curves, templates or histogram)", sub));
}

}  // namespace slope::cli
