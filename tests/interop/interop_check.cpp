// The slope side of the NumPy interop check (tests/interop/run_interop.cmake).
//
//   interop_check export DIR
//     trains each model of kModels for two epochs on a synthetic set of 8x8
//     uint8 images, and writes DIR/raw.npy (uint8 inputs it did not train
//     on), DIR/models.txt (one name per line) and per model NAME:
//     NAME.safetensors (Trainer::export_model), NAME_scores.npy (float32:
//     the trained model's scores of raw.npy in evaluation mode),
//     NAME_scores64.npy (the same from its float64 twin: make_model<double>
//     and nn::load of the exported file) and NAME_npy/ (the .npy export).
//   interop_check import FILE RAW.npy SCORES.npy [RTOL64 [RTOL32]]
//     rebuilds the model of FILE (a file written by NumPy) with
//     train::load_model and its float64 twin, scores RAW.npy as slope does
//     (its preprocessing), and compares with NumPy's SCORES.npy (float64):
//     exit 1 unless, in every row, the largest difference is at most RTOL64
//     (default 1e-6) times the row's largest |score| for the twin, and
//     RTOL32 (default 3e-5: float32 rounding) for the float32 model.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "slope/io.hpp"
#include "slope/nn.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSide = 8, kClasses = 5;

// Class k is a brighter band of rows k .. k+3 on noise.
data::Dataset images(std::size_t n, std::uint64_t seed) {
  data::Dataset d;
  d.name = "interop";
  d.rows = d.cols = kSide;
  for (std::size_t k = 0; k < kClasses; ++k) d.class_names.push_back(std::to_string(k));
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = static_cast<std::int32_t>(rng.below(kClasses));
    d.labels.push_back(y);
    for (std::size_t r = 0; r < kSide; ++r)
      for (std::size_t c = 0; c < kSide; ++c) {
        const bool band = r >= static_cast<std::size_t>(y) && r < static_cast<std::size_t>(y) + 4;
        const double v = (band ? 150.0 : 60.0) + 40.0 * rng.normal();
        d.pixels.push_back(static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0)));
      }
  }
  return d;
}

struct ModelCase {
  const char* name;
  const char* settings;  // Config lines
};
const ModelCase kModels[] = {
    {"mlp_tanh", "model=mlp\nhidden=16,8\nactivation=tanh\ndropout=0.2,0.1\n"},
    {"mlp_relu", "model=mlp\nhidden=20,10\nactivation=relu\ndropout=0.25\n"},
    {"residual_gelu", "model=residual\nhidden=16\nblocks=2\nactivation=gelu\ndropout=0.1\n"},
    {"residual_relu", "model=residual\nhidden=16\nblocks=1\nactivation=relu\ndropout=0\n"},
    {"two_layer_sigmoid", "model=two-layer\nhidden=12\nactivation=sigmoid\ndropout=0.3\n"},
    {"linear", "model=linear\n"},
};

template <class T>
Array<T> scores_of(nn::Module<T>& model, const data::Dataset& d, const data::Preprocess& prep) {
  model.eval();
  NoGradGuard no_grad;
  const auto all = data::all_indices(d.size());
  return model(data::batch<T>(d, all, prep).x).value();
}

// max over rows of max_j |got - want| / max_j |want|
template <class T>
double relative_difference(const Array<T>& got, const std::vector<double>& want, std::size_t cols) {
  double worst = 0.0;
  for (std::size_t i = 0; i < want.size() / cols; ++i) {
    double diff = 0.0, scale = 1e-30;
    for (std::size_t j = 0; j < cols; ++j) {
      diff = std::max(diff, std::abs(double(got.data()[i * cols + j]) - want[i * cols + j]));
      scale = std::max(scale, std::abs(want[i * cols + j]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

int export_models(const fs::path& dir) {
  fs::create_directories(dir);
  const data::Dataset train_set = images(1200, 1), test_set = images(300, 2);
  io::write_npy<std::uint8_t>(dir / "raw.npy", test_set.pixels, {test_set.size(), test_set.dim()});
  std::ofstream names(dir / "models.txt");
  for (const ModelCase& m : kModels) {
    train::Config c = train::Config::from_text(m.settings);
    c.epochs = 2;
    c.batch = 64;
    c.val_size = 200;
    c.lr = 1e-2;
    train::Trainer t(c, train_set);
    while (!t.done()) t.run_epoch();
    t.export_model(dir / (std::string(m.name) + ".safetensors"));
    fs::create_directories(dir / (std::string(m.name) + "_npy"));
    t.export_npy(dir / (std::string(m.name) + "_npy"));
    const Array<float> s = scores_of(t.model(), test_set, t.preprocess());
    io::write_npy<float>(dir / (std::string(m.name) + "_scores.npy"), std::span(s.data(), s.size()),
                         {s.shape()[0], s.shape()[1]});
    Rng rng(0);
    auto twin = train::make_model<double>(c, test_set.dim(), kClasses, rng);
    nn::load(*twin, dir / (std::string(m.name) + ".safetensors"));
    const Array<double> s64 = scores_of(*twin, test_set, t.preprocess());
    io::write_npy<double>(dir / (std::string(m.name) + "_scores64.npy"), std::span(s64.data(), s64.size()),
                          {s64.shape()[0], s64.shape()[1]});
    const double acc = t.evaluate(test_set).accuracy;
    fmt::print("slope: {} trained ({}), test accuracy {:.1f}%, exported\n", m.name, t.model().describe(), 100 * acc);
    names << m.name << "\n";
  }
  return 0;
}

int import_model(const fs::path& file, const fs::path& raw_path, const fs::path& scores_path, double rtol64,
                 double rtol32) {
  const train::SavedModel m = train::load_model(file);
  const io::Array raw = io::read_npy(raw_path);
  data::Dataset d;
  d.name = m.dataset;
  d.rows = 1;
  d.cols = raw.shape.at(1);
  d.pixels = raw.to_vector<std::uint8_t>();
  d.labels.assign(raw.shape.at(0), 0);
  for (std::size_t k = 0; k < m.classes; ++k) d.class_names.push_back(std::to_string(k));
  const std::vector<double> want = io::read_npy(scores_path).to_vector<double>();
  const Array<float> got = scores_of(*m.model, d, m.preprocess);
  const double diff = relative_difference(got, want, m.classes);
  // The float64 twin, its weights read from the same file.
  Rng rng(0);
  auto twin = train::make_model<double>(m.config, m.inputs, m.classes, rng);
  nn::load(*twin, file);
  const double diff64 = relative_difference(scores_of(*twin, d, m.preprocess), want, m.classes);
  const bool ok = diff64 <= rtol64 && diff <= rtol32;
  fmt::print("slope: {}: {} ({}), {} examples, max relative score difference {:.2e} in float64 (rtol {:g}), "
             "{:.2e} in float32 (rtol {:g}): {}\n",
             file.filename().string(), m.config.model, m.model->describe(), d.size(), diff64, rtol64, diff,
             rtol32, ok ? "agree" : "DISAGREE");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(1);
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "export" && argc == 3) return export_models(argv[2]);
    if (mode == "import" && argc >= 5 && argc <= 7)
      return import_model(argv[2], argv[3], argv[4], argc >= 6 ? std::stod(argv[5]) : 1e-6,
                          argc == 7 ? std::stod(argv[6]) : 3e-5);
    fmt::print(stderr, "usage: {0} export DIR | {0} import FILE RAW.npy SCORES.npy [RTOL64 [RTOL32]]\n", argv[0]);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "interop_check: {}\n", e.what());
    return 1;
  }
}
