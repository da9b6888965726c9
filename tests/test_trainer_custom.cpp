// The Trainer for any model (train/trainer.hpp): a user-written Module with a
// factory and a custom loss; save and resume ending bitwise equal to a
// straight run at 1 and 2 threads (with the batch really split in two);
// resume refusing a model of other names; the export of a custom model; a
// float model tracking its float64 twin; a config whose dropout list does not
// fit the model.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "slope/data.hpp"
#include "slope/data_parallel.hpp"
#include "slope/io.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const bool single_thread = use_one_blas_thread();

// h = tanh(x W1 + b1); h = h + tanh(dropout(h) W2 + b2); scores = h W3 + b3.
// `first` names the input layer (another name makes another model).
template <class T>
struct ResidualNet : nn::Module<T> {
  nn::Linear<T> in, mid, out;
  nn::Dropout<T> drop;
  ResidualNet(std::size_t inputs, std::size_t hidden, std::size_t classes, Rng& rng, double p = 0.0,
              const std::string& first = "in")
      : in(this->register_module(first, nn::Linear<T>(inputs, hidden, rng, nn::Init::xavier()))),
        mid(this->register_module("mid", nn::Linear<T>(hidden, hidden, rng, nn::Init::xavier()))),
        out(this->register_module("out", nn::Linear<T>(hidden, classes, rng, nn::Init::xavier()))),
        drop(this->register_module("drop", nn::Dropout<T>(p, rng))) {}
  TensorT<T> forward(const TensorT<T>& x) const override {
    TensorT<T> h = tanh(in(x));
    h = h + tanh(mid(drop(h)));
    return out(h);
  }
};

// Cross-entropy against smoothed targets q = (1 - eps) onehot(y) + eps / C,
// as the mean over rows of -sum_c q_c log p_c: a loss the registry lacks.
constexpr double kSmooth = 0.1;
Tensor smoothed_cross_entropy(const Tensor& scores, std::span<const std::int32_t> y) {
  const std::size_t n = scores.shape()[0], c = scores.shape()[1];
  Array<float> q = Array<float>::from_shape({n, c});
  q.fill(static_cast<float>(kSmooth / static_cast<double>(c)));
  for (std::size_t i = 0; i < n; ++i) q(i, static_cast<std::size_t>(y[i])) += static_cast<float>(1.0 - kSmooth);
  return -mean(sum(Tensor(std::move(q)) * log_softmax(scores), 1));
}

// The same loss in plain double loops, from the scores.
double smoothed_by_hand(const Array<float>& s, std::span<const std::int32_t> y) {
  const std::size_t n = s.shape()[0], c = s.shape()[1];
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double mx = s(i, 0), z = 0.0;
    for (std::size_t j = 1; j < c; ++j) mx = std::max(mx, double(s(i, j)));
    for (std::size_t j = 0; j < c; ++j) z += std::exp(double(s(i, j)) - mx);
    for (std::size_t j = 0; j < c; ++j) {
      const double q = kSmooth / double(c) + (static_cast<std::int32_t>(j) == y[i] ? 1.0 - kSmooth : 0.0);
      total -= q * (double(s(i, j)) - mx - std::log(z));
    }
  }
  return total / double(n);
}

// 4096 examples of 256 features in 10 classes (as tests/test_engine_alloc.cpp):
// a batch of 256 rows of the net below is split into two shards at 2 threads.
const data::Dataset& synthetic() {
  static const data::Dataset d = [] {
    data::Dataset s;
    s.name = "synthetic";
    s.rows = 16;
    s.cols = 16;
    Rng rng(5);
    for (std::size_t i = 0; i < 4096; ++i) {
      const auto y = static_cast<std::int32_t>(rng.below(10));
      s.labels.push_back(y);
      for (std::size_t j = 0; j < 256; ++j)
        s.features.push_back(static_cast<float>(rng.normal() + (j % 10 == static_cast<std::size_t>(y) ? 1.0 : 0.0)));
    }
    for (int k = 0; k < 10; ++k) s.class_names.push_back(std::to_string(k));
    return s;
  }();
  return d;
}

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

std::vector<std::vector<float>> param_values(const train::Trainer& t) {
  std::vector<std::vector<float>> out;
  for (const auto& p : t.model().parameters()) out.emplace_back(p.data(), p.data() + p.size());
  return out;
}

bool bitwise_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

}  // namespace

TEST_CASE("A user-written module trains through the Trainer with a factory and a custom loss", "[trainer][custom]") {
  train::Config c;
  c.epochs = 30;
  c.batch = 32;
  c.lr = 2e-2;
  c.weight_decay = 1e-4;
  c.val_size = 180;
  c.warmup_epochs = 0;
  c.seed = 4;
  std::atomic<long> calls{0};
  const train::LossFn loss = [&](const Tensor& s, std::span<const std::int32_t> y) {
    ++calls;
    return smoothed_cross_entropy(s, y);
  };
  train::Trainer t(c, spiral_train(), [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 32, 3, rng, 0.1); },
                   loss);
  std::vector<std::string> names;
  for (const auto& [name, p] : t.model().named_parameters()) {
    names.push_back(name);
    CHECK(p.name() == name);  // the Trainer names the tensors
  }
  CHECK(names == std::vector<std::string>{"in.W", "in.b", "mid.W", "mid.b", "out.W", "out.b"});
  CHECK(t.optimizer().names() == std::vector<std::string>{"in.W", "mid.W", "out.W", "in.b", "mid.b", "out.b"});
  CHECK(t.model().describe() == "ResidualNet(in: Linear(2, 32), mid: Linear(32, 32), out: Linear(32, 3), drop: Dropout(0.1))");
  const double before = t.evaluate(spiral_train(), t.split().val).accuracy;
  train::EpochStats last;
  while (!t.done()) last = t.run_epoch();
  INFO("validation accuracy " << before << " -> " << last.val_accuracy);
  CHECK(calls.load() >= static_cast<long>(t.step()));
  CHECK(last.val_accuracy >= 0.9);
  CHECK(last.val_accuracy > before + 0.3);
  // evaluate() scores with the custom loss too.
  const auto val = t.split().val;
  const data::Batch<float> b = data::batch<float>(spiral_train(), val, t.preprocess());
  t.model().eval();
  const Tensor scores = t.model()(b.x);
  const double by_hand = smoothed_by_hand(scores.value(), b.y);
  CHECK(t.evaluate(spiral_train(), val).data_loss == Approx(by_hand).epsilon(1e-5));
  CHECK(std::abs(softmax_cross_entropy(scores, b.y).item() - by_hand) > 1e-3);  // not the registry's loss
}

TEST_CASE("A user-written module resumed after 2 of 4 epochs ends bitwise equal to a straight run, at 1 and 2 threads",
          "[trainer][custom][resume]") {
  const int threads = GENERATE(1, 2);
  INFO(threads << " thread(s)");
  set_num_threads(threads);
  TempDir dir("trainer_custom_resume");
  const fs::path path = dir / "half.ckpt";
  train::Config c;
  c.epochs = 4;
  c.batch = 256;
  c.val_size = 256;
  c.lr = 3e-3;
  c.lambda = 1e-4;
  c.warmup_epochs = 1;
  c.seed = 9;
  const train::ModelFactory factory = [](Rng& rng) {
    return std::make_unique<ResidualNet<float>>(256, 128, 10, rng, 0.2);
  };
  const train::LossFn loss = smoothed_cross_entropy;
  {
    // The steps really are split at 2 threads (the point of the thread count).
    Rng rng(0);
    const auto probe_model = factory(rng);
    CHECK(DataParallel<float>(probe_model->parameters()).shards_for(256) == static_cast<std::size_t>(threads));
  }
  train::Trainer straight(c, synthetic(), factory, loss);
  const auto initial = param_values(straight);
  while (!straight.done()) straight.run_epoch();

  std::vector<std::vector<float>> mid;
  {
    train::Trainer first(c, synthetic(), factory, loss);
    first.run_epoch();
    first.run_epoch();
    first.save(path);
    mid = param_values(first);
  }
  const auto resumed = train::Trainer::resume(path, synthetic(), factory, loss);
  CHECK(resumed->epochs_done() == 2);
  CHECK(bitwise_equal(param_values(*resumed), mid));
  while (!resumed->done()) resumed->run_epoch();
  CHECK(resumed->step() == straight.step());
  CHECK(bitwise_equal(param_values(*resumed), param_values(straight)));
  CHECK(resumed->optimizer().state() == straight.optimizer().state());
  CHECK_FALSE(bitwise_equal(param_values(*resumed), mid));      // it trained on
  CHECK_FALSE(bitwise_equal(param_values(straight), initial));  // and so did the straight run
  set_num_threads(1);
}

TEST_CASE("Resume refuses a checkpoint whose parameter names do not match the factory's model", "[trainer][custom][resume]") {
  TempDir dir("trainer_custom_names");
  const fs::path path = dir / "run.ckpt";
  train::Config c;
  c.epochs = 2;
  c.batch = 100;
  c.val_size = 180;
  {
    train::Trainer t(c, spiral_train(), [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 8, 3, rng); });
    t.run_epoch();
    t.save(path);
  }
  const train::ModelFactory renamed = [](Rng& rng) {
    return std::make_unique<ResidualNet<float>>(2, 8, 3, rng, 0.0, "input");
  };
  require_io_error([&] { train::Trainer::resume(path, spiral_train(), renamed); }, path,
                   "model: does not match ResidualNet: missing input.W, input.b; unexpected in.W, in.b");
  const train::ModelFactory wider = [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 9, 3, rng); };
  require_io_error([&] { train::Trainer::resume(path, spiral_train(), wider); }, path,
                   "'in.W' has shape (2, 8) in the file, the model's is (2, 9)");
  // Without the factory the configured model (the two-layer net) is built: refused by its size.
  require_io_error([&] { train::Trainer::resume(path, spiral_train()); }, path,
                   "the configured two-layer model has 2307 parameters, the checkpoint 123");
  // The right factory resumes.
  CHECK_NOTHROW(train::Trainer::resume(path, spiral_train(),
                                       [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 8, 3, rng); }));
}

TEST_CASE("An exported custom model records its type, not the config's model, and loads with nn::load",
          "[trainer][custom][export]") {
  TempDir dir("trainer_custom_export");
  const fs::path path = dir / "model.safetensors";
  train::Config c;
  c.epochs = 1;
  c.val_size = 180;
  train::Trainer t(c, spiral_train(), [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 8, 3, rng); });
  t.run_epoch();
  t.export_model(path);
  const io::TensorFile f = io::load_safetensors(path);
  CHECK(f.metadata.at("slope.custom_model") == "ResidualNet");
  CHECK(f.metadata.count("slope.model") == 0);  // the config's two-layer net is not what was trained
  CHECK(f.metadata.at("slope.preprocess") == train::preprocess_text(t.preprocess()));
  require_io_error([&] { train::load_model(path); }, path, "holds a custom model (ResidualNet)");
  Rng other(99);
  ResidualNet<float> rebuilt(2, 8, 3, other);
  nn::load(rebuilt, path);
  const auto want = t.model().parameters();
  const auto got = rebuilt.parameters();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(std::memcmp(got[i].data(), want[i].data(), got[i].size() * sizeof(float)) == 0);
}

TEST_CASE("Float32 training of a user-written model tracks its float64 twin for a few steps", "[trainer][custom][twin]") {
  Rng rng(21);
  const ResidualNet<float> model(2, 16, 3, rng);
  ResidualNet<double> twin(2, 16, 3, rng);
  nn::copy_parameters(model, twin);
  const data::Dataset& d = spiral_train();
  const auto idx = data::all_indices(200);
  const data::Batch<float> bf = data::batch<float>(d, idx, data::Preprocess{});
  const data::Batch<double> bd = data::batch<double>(d, idx, data::Preprocess{});
  optim::Adam<float> of(model.named_parameters(), {.lr = 1e-2});
  optim::Adam<double> od(twin.named_parameters(), {.lr = 1e-2});
  const auto start = model.parameters()[0].value();
  double worst = 0.0;
  for (int step = 0; step < 10; ++step) {
    of.zero_grad();
    softmax_cross_entropy(model(bf.x), bf.y).backward();
    of.step();
    od.zero_grad();
    softmax_cross_entropy(twin(bd.x), bd.y).backward();
    od.step();
    const auto pf = model.parameters();
    const auto pd = twin.parameters();
    for (std::size_t i = 0; i < pf.size(); ++i)
      for (std::size_t j = 0; j < pf[i].size(); ++j)
        worst = std::max(worst, std::abs(double(pf[i].data()[j]) - pd[i].data()[j]));
  }
  INFO("largest difference between the float and the float64 weights: " << worst);
  CHECK(worst < 1e-5);
  double moved = 0.0;
  for (std::size_t j = 0; j < start.size(); ++j)
    moved = std::max(moved, std::abs(double(model.parameters()[0].data()[j]) - start.data()[j]));
  CHECK(moved > 1e-2);  // ten steps of 1e-2 really moved the weights
}

TEST_CASE("A Trainer rejects a config whose dropout list does not fit the model, naming dropout", "[trainer][config]") {
  train::Config c;
  c.val_size = 100;
  c.model = "mlp";
  c.hidden = {16, 8};
  c.dropout = {0.1, 0.2, 0.3};
  CHECK_THROWS_MATCHES(train::Trainer(c, spiral_train()), ValueError,
                       what(StartsWith("dropout must be one value or one per hidden layer (2 for this model)")));
  c.model = "residual";
  c.hidden = {16};
  c.blocks = 2;
  c.dropout = {0.1, 0.2};
  CHECK_THROWS_MATCHES(train::Trainer(c, spiral_train()), ValueError,
                       what(StartsWith("dropout must be one value or one per hidden layer (3 for this model)")));
  c.dropout = {0.1, 0.2, 0.3};
  CHECK_NOTHROW(train::Trainer(c, spiral_train()));
  // The rule holds with a factory too: the config is validated first.
  c.dropout = {0.5, 0.5};
  CHECK_THROWS_MATCHES(
      train::Trainer(c, spiral_train(), [](Rng& rng) { return std::make_unique<ResidualNet<float>>(2, 8, 3, rng); }),
      ValueError, what(Contains("dropout")));
}
