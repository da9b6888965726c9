// Tutorial 10: write your own model. A residual tanh net as user code (a
// Module<T> template with registered submodules and its own forward), then
// everything slope does for any module:
//
//   1. build it and list its named parameters;
//   2. gradcheck its float64 twin (copy_parameters) in float64;
//   3. train it on Fashion-MNIST through train::Trainer, from a factory;
//   4. save it (Trainer::export_model: the state_dict as safetensors) and read
//      it back into a fresh model with nn::load: the same scores, bit for bit;
//   5. write test images and slope's scores of them as .npy files for
//      examples/custom_model.py, which reads the model in NumPy (no slope code)
//      and checks that its predictions agree.
//
//   build/examples/example_custom_model [--train-size N] [--test-size N]
//       [--epochs E] [--hidden H] [--batch B] [--lr LR] [--seed S]
//       [--data-dir DIR] [--out DIR]
//   /usr/bin/python3 examples/custom_model.py DIR
//
// Defaults: all 60000 training images (the Trainer holds 5000 out for
// validation), the 10000 test images, 5 epochs, H = 256, batch 256, AdamW at
// lr 2e-3 with warm-up and cosine decay, seed 0, files into the current
// directory. Exit status: 0 done, 1 a failure (missing data), 2 a wrong command line.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "example_args.hpp"
#include "slope/data.hpp"
#include "slope/gradcheck.hpp"
#include "slope/io.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/train.hpp"

using namespace slope;
namespace fs = std::filesystem;

// ---- the model: user code -------------------------------------------------------------

// scores = out(h2), h2 = h1 + tanh(mid(dropout(h1))), h1 = tanh(in(x)).
// One template for both element types: ResidualTanhNet<float> trains,
// ResidualTanhNet<double> is its float64 twin for the gradient check.
template <class T>
struct ResidualTanhNet : nn::Module<T> {
  nn::Linear<T> in, mid, out;
  nn::Dropout<T> drop;

  ResidualTanhNet(std::size_t inputs, std::size_t hidden, std::size_t classes, Rng& rng)
      : in(this->register_module("in", nn::Linear<T>(inputs, hidden, rng, nn::Init::xavier()))),
        mid(this->register_module("mid", nn::Linear<T>(hidden, hidden, rng, nn::Init::xavier()))),
        out(this->register_module("out", nn::Linear<T>(hidden, classes, rng, nn::Init::xavier()))),
        drop(this->register_module("drop", nn::Dropout<T>(0.1, rng))) {}

  TensorT<T> forward(const TensorT<T>& x) const override {
    const TensorT<T> h1 = tanh(in(x));
    const TensorT<T> h2 = h1 + tanh(mid(drop(h1)));  // the skip connection
    return out(h2);
  }
};

// ---- the program ------------------------------------------------------------------------

namespace {

constexpr const char* kUsage =
    "usage: example_custom_model [--train-size N] [--test-size N] [--epochs E] [--hidden H]\n"
    "           [--batch B] [--lr LR] [--seed S] [--data-dir DIR] [--out DIR]\n"
    "defaults: 60000 training and 10000 test images, 5 epochs, H 256, batch 256, lr 2e-3, seed 0,\n"
    "the Debian Fashion-MNIST directory, files into --out (default: the current directory)\n";

struct Options {
  std::size_t train_size = 60000, test_size = 10000, epochs = 5, hidden = 256, batch = 256;
  double lr = 2e-3;
  std::uint64_t seed = 0;
  fs::path data_dir = data::kFashionMnistDir, out = ".";
};

Options parse(int argc, char** argv) {
  examples::KeyValueArgs args(argc, argv);
  Options o;
  args.integer("train-size", o.train_size, 1000, 60000);
  args.integer("test-size", o.test_size, 1, 10000);
  args.integer("epochs", o.epochs, 1, 1000);
  args.integer("hidden", o.hidden, 1, 4096);
  args.integer("batch", o.batch, 1, 60000);
  args.number("lr", o.lr, 0);
  args.integer("seed", o.seed, 0);
  args.path("data-dir", o.data_dir);
  args.path("out", o.out);
  args.finish();
  if (!fs::is_directory(o.out)) throw ValueError(fmt::format("--out: '{}' is not a directory", o.out.string()));
  return o;
}

// The first n examples of a split.
data::Dataset first(const data::Dataset& d, std::size_t n) {
  if (n >= d.size()) return d;
  const auto idx = data::all_indices(n);
  return data::subset(d, idx);
}

template <class T>
Array<T> scores_of(nn::Module<T>& model, const data::Dataset& d, const data::Preprocess& prep) {
  model.eval();  // dropout off
  NoGradGuard no_grad;
  const auto all = data::all_indices(d.size());
  return model(data::batch<T>(d, all, prep).x).value();
}

void run(const Options& o) {
  const data::Dataset train_set = first(data::fashion_mnist("train", o.data_dir), o.train_size);
  const data::Dataset test_set = first(data::fashion_mnist("test", o.data_dir), o.test_size);
  const std::size_t inputs = train_set.dim(), classes = train_set.num_classes();

  // 1. Build it. Registration gives every parameter a dotted name.
  Rng rng(o.seed);
  ResidualTanhNet<float> model(inputs, o.hidden, classes, rng);
  fmt::print("1. the model: {}\n", model.describe());
  std::size_t count = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    fmt::print("   {:<6} {}\n", name, to_string(p.shape()));
    count += p.size();
  }
  fmt::print("   {} parameters\n", count);

  // 2. Its float64 twin: the same template, the same values, checked in float64.
  ResidualTanhNet<double> twin(inputs, o.hidden, classes, rng);
  nn::copy_parameters(model, twin);
  nn::name_parameters(twin);
  twin.eval();  // a fixed function: no dropout masks between the evaluations
  const auto eight = data::all_indices(8);
  const data::Batch<double> few = data::batch<double>(train_set, eight, data::Preprocess{.scale = 1.0 / 255});
  const GradcheckReport report = gradcheck(
      [&](const std::vector<Tensor64>&) { return softmax_cross_entropy(twin(few.x), few.y); }, twin.parameters(),
      {.max_entries_per_input = 40, .seed = 1});
  fmt::print("2. gradcheck of the float64 twin on 8 images (40 entries of each parameter): {}\n",
             report.message());

  // 3. Train it: the Trainer takes a factory that builds the model from its Rng.
  train::Config c;
  c.epochs = o.epochs;
  c.batch = o.batch;
  c.lr = o.lr;
  c.seed = o.seed;
  c.val_size = std::min<std::size_t>(5000, train_set.size() / 10);
  c.warmup_epochs = std::min(1.0, static_cast<double>(o.epochs) / 5.0);
  const std::size_t hidden = o.hidden;
  const train::ModelFactory factory = [=](Rng& init) {
    return std::make_unique<ResidualTanhNet<float>>(inputs, hidden, classes, init);
  };
  train::Trainer trainer(c, train_set, factory);
  fmt::print("3. training on {} images ({} held out for validation), AdamW lr {:g}, {} epochs of batch {}\n",
             trainer.split().train.size(), trainer.split().val.size(), o.lr, o.epochs, o.batch);
  while (!trainer.done()) {
    const train::EpochStats s = trainer.run_epoch();
    fmt::print("   epoch {:>2}  loss {:.4f}  train {:.2f}%  val {:.2f}%  {:.1f}s\n", s.epoch, s.data_loss,
               100 * s.train_accuracy, 100 * s.val_accuracy, s.seconds);
  }
  const train::Evaluation test = trainer.evaluate(test_set);
  fmt::print("   test accuracy {:.2f}% on {} images\n", 100 * test.accuracy, test_set.size());

  // 4. Save the state_dict; read it into a fresh model of other weights.
  const fs::path file = o.out / "custom_model.safetensors";
  trainer.export_model(file);
  Rng other(o.seed + 1000);
  ResidualTanhNet<float> fresh(inputs, o.hidden, classes, other);
  std::vector<std::string> keys;
  for (const auto& [key, value] : nn::load(fresh, file)) keys.push_back(key);
  const Array<float> scores = scores_of(trainer.model(), test_set, trainer.preprocess());
  const Array<float> again = scores_of(fresh, test_set, trainer.preprocess());
  fmt::print("4. saved {} ({} bytes), metadata {}\n", file.string(), fs::file_size(file), fmt::join(keys, ", "));
  fmt::print("   nn::load into a fresh model: its scores of the test images are {}\n",
             scores == again ? "bitwise equal" : "DIFFERENT");

  // 5. For NumPy: the raw test images and slope's scores of them.
  io::write_npy<std::uint8_t>(o.out / "test_images.npy", test_set.pixels, {test_set.size(), inputs});
  io::write_npy<float>(o.out / "slope_scores.npy", std::span(scores.data(), scores.size()),
                       {test_set.size(), classes});
  fmt::print("5. wrote {} and {}; next: /usr/bin/python3 examples/custom_model.py {}\n",
             (o.out / "test_images.npy").string(), (o.out / "slope_scores.npy").string(), o.out.string());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      fmt::print("{}", kUsage);
      return 0;
    }
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const Error& e) {
    fmt::print(stderr, "example_custom_model: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_custom_model: {}\n", e.what());
    return 1;
  }
  return 0;
}
