// Training: the Config's text form and validation, the optimizer and schedule
// factories, the Trainer on the spiral, checkpoints and exact resume, a short
// end-to-end run on part of Fashion-MNIST, and NaN detection.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "slope/data.hpp"
#include "slope/error.hpp"
#include "slope/ops.hpp"
#include "slope/runtime.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

const bool single_thread = use_one_blas_thread();



// A fresh directory under the system temp dir, removed at scope exit.

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

// A small, quick configuration on the spiral.
train::Config spiral_config() {
  train::Config c;
  c.model = "two-layer";
  c.hidden = {32};
  c.optimizer = "adamw";
  c.lr = 1e-2;
  c.weight_decay = 1e-3;
  c.reg = "l2";
  c.lambda = 1e-4;
  c.epochs = 4;
  c.batch = 50;
  c.val_size = 180;
  c.warmup_epochs = 1;
  c.seed = 11;
  return c;
}

// Every parameter's bytes, in order.
std::vector<std::vector<float>> param_values(const train::Trainer& t) {
  std::vector<std::vector<float>> out;
  for (const auto& p : t.model().parameters()) out.emplace_back(p.data(), p.data() + p.size());
  return out;
}

bool bitwise_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() ||
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

void expect_invalid(train::Config c, const std::string& field) {
  INFO("field " << field);
  CHECK_THROWS_MATCHES(c.validate(), ValueError, what(StartsWith(field + " must be")));
}

}  // namespace

// ---- Config -------------------------------------------------------------------------------

TEST_CASE("Config::set and get round-trip every kind of field", "[train][config]") {
  train::Config c;
  c.set("model", "mlp");
  c.set("hidden", "256,128,64");
  c.set("lr", "0.003");
  c.set("epochs", "7");
  c.set("seed", "18446744073709551615");
  c.set("center", "false");
  c.set("weight_decay", "1e-5");
  CHECK(c.model == "mlp");
  CHECK(c.hidden == std::vector<std::size_t>{256, 128, 64});
  CHECK(c.lr == 0.003);
  CHECK(c.epochs == 7);
  CHECK(c.seed == 18446744073709551615ull);
  CHECK_FALSE(c.center);
  CHECK(c.weight_decay == 1e-5);
  CHECK(c.get("model") == "mlp");
  CHECK(c.get("hidden") == "256,128,64");
  CHECK(c.get("epochs") == "7");
  CHECK(c.get("center") == "false");
  CHECK(std::stod(c.get("lr")) == 0.003);
  // The model table's sizes follow the fields: 784-256-128-64-10, 784-256-10, 784-10.
  const auto size = [&](const char* model) { return entry(train::models(), model, "model").size(c, 784, 10); };
  CHECK(size("mlp") == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
  CHECK(size("two-layer") == 784 * 256 + 256 + 256 * 10 + 10);
  CHECK(size("linear") == 784 * 10 + 10);
}

TEST_CASE("Config::to_text and from_text round-trip exactly, numbers to the last bit", "[train][config]") {
  train::Config c;
  c.model = "mlp";
  c.hidden = {100, 50};
  c.loss = "svm";
  c.reg = "elastic";
  c.lambda = 1.0 / 3.0;
  c.beta = 0.1 + 0.2;
  c.dropout = {0.25};
  c.optimizer = "nesterov";
  c.lr = 2.0 / 7.0 * 1e-3;
  c.momentum = 0.95;
  c.schedule = "step";
  c.warmup_epochs = 0.5;
  c.gamma = 0.3;
  c.epochs = 3;
  c.batch = 17;
  c.seed = 123456789;
  c.val_size = 42;
  c.center = false;
  c.activation = "tanh";
  const std::string text = c.to_text();
  const train::Config back = train::Config::from_text(text);
  CHECK(back.to_text() == text);
  CHECK(back.lambda == c.lambda);  // exact, not approximately
  CHECK(back.beta == c.beta);
  CHECK(back.lr == c.lr);
  CHECK(back.hidden == c.hidden);
  CHECK(back.loss == "svm");
  CHECK(back.center == false);
  CHECK(back.activation == "tanh");
  // One "key=value" line per key, in declaration order.
  const auto& keys = train::Config::keys();
  const std::vector<std::string> core{
      "model", "hidden", "blocks", "activation", "dropout", "loss", "reg", "lambda", "beta", "optimizer",
      "lr", "momentum", "beta1", "beta2", "eps", "alpha", "weight_decay", "decay_biases", "clip_norm",
      "schedule", "warmup_epochs", "gamma", "min_lr", "epochs", "batch", "base_batch", "seed", "val_size", "center"};
  CHECK(keys == core);
  std::string expected;
  for (const auto& k : keys) expected += k + "=" + c.get(k) + "\n";
  CHECK(text == expected);
  // Defaults round-trip too.
  CHECK(train::Config::from_text(train::Config().to_text()).to_text() == train::Config().to_text());
}

TEST_CASE("Config::set and from_text name the unknown key or the bad value", "[train][config]") {
  train::Config c;
  CHECK_THROWS_MATCHES(c.set("learning_rate", "1"), ValueError, what(Contains("learning_rate")));
  CHECK_THROWS_MATCHES(c.get("nope"), ValueError, what(Contains("nope")));
  CHECK_THROWS_MATCHES(c.set("lr", "fast"), ValueError, what(Contains("lr") && Contains("fast")));
  CHECK_THROWS_MATCHES(c.set("epochs", "-3"), ValueError, what(Contains("epochs")));
  CHECK_THROWS_MATCHES(c.set("batch", "12x"), ValueError, what(Contains("batch")));
  CHECK_THROWS_MATCHES(c.set("hidden", "512,,3"), ValueError, what(Contains("hidden")));
  CHECK_THROWS_MATCHES(c.set("hidden", ""), ValueError, what(Contains("hidden")));
  CHECK_THROWS_MATCHES(c.set("center", "maybe"), ValueError, what(Contains("center")));
  CHECK(c.lr == train::Config().lr);  // failed sets change nothing
  CHECK_THROWS_MATCHES(train::Config::from_text("lr=0.1\nbogus=3\n"), ValueError, what(Contains("bogus")));
  CHECK_THROWS_AS(train::Config::from_text("lr 0.1\n"), ValueError);
}

TEST_CASE("Config::validate accepts the defaults and names the first bad field", "[train][config]") {
  CHECK_NOTHROW(train::Config().validate());
  train::Config c;
  c.lr = -1;
  CHECK_THROWS_MATCHES(c.validate(), ValueError, what(StartsWith("lr must be") && Contains("-1")));
  c = {};
  c.batch = 0;
  expect_invalid(c, "batch");
  c = {};
  c.optimizer = "foo";
  CHECK_THROWS_MATCHES(c.validate(), ValueError, what(StartsWith("optimizer must be") && Contains("foo")));
  c = {};
  c.hidden = {0};
  expect_invalid(c, "hidden");
  c = {};
  c.model = "mlp";
  c.hidden = {64, 0};
  expect_invalid(c, "hidden");
  c = {};
  c.epochs = 0;
  expect_invalid(c, "epochs");
  c = {};
  c.model = "cnn";
  expect_invalid(c, "model");
  c = {};
  c.loss = "hinge";
  expect_invalid(c, "loss");
  c = {};
  c.lambda = -0.5;
  expect_invalid(c, "lambda");
  c = {};
  c.momentum = 1.0;
  expect_invalid(c, "momentum");
  c = {};
  c.schedule = "exp";
  expect_invalid(c, "schedule");
  c = {};
  c.lr = std::nan("");
  expect_invalid(c, "lr");
  // Infinity is no setting: each of these once passed validate().
  const double inf = INFINITY;
  c = {}; c.lr = inf; expect_invalid(c, "lr");
  c = {}; c.gamma = inf; expect_invalid(c, "gamma");
  c = {}; c.weight_decay = inf; expect_invalid(c, "weight_decay");
  c = {}; c.lambda = inf; expect_invalid(c, "lambda");
  c = {}; c.beta = inf; expect_invalid(c, "beta");
  c = {}; c.eps = inf; expect_invalid(c, "eps");
  c = {}; c.warmup_epochs = inf; expect_invalid(c, "warmup_epochs");
  c = {}; c.clip_norm = inf; expect_invalid(c, "clip_norm");
  c = {}; c.min_lr = inf; expect_invalid(c, "min_lr");
  // A cosine floor above the peak learning rate.
  c = {}; c.lr = 1e-3; c.min_lr = 1e-2; expect_invalid(c, "min_lr");
  // Counts past the caps, which would overflow the step count.
  c = {}; c.epochs = std::size_t{1} << 40; expect_invalid(c, "epochs");
  c = {}; c.batch = std::size_t{1} << 40; expect_invalid(c, "batch");
  c = {};
  CHECK_THROWS_MATCHES(c.set("lr", "inf"), ValueError, what(Contains("finite")));
  CHECK_THROWS_MATCHES(c.set("epochs", "99999999999999999999"), ValueError, what(Contains("64 bits")));
  // The linear model has no hidden layer, so its sizes are not checked.
  c = {};
  c.model = "linear";
  c.hidden = {0};
  CHECK_NOTHROW(c.validate());
}

// ---- factories ---------------------------------------------------------------------------------

TEST_CASE("make_schedule warms up linearly, then decays by cosine to the floor", "[train][schedule]") {
  train::Config c;
  c.lr = 0.1;
  c.epochs = 4;
  c.warmup_epochs = 1;
  c.schedule = "cosine";
  const auto s = train::make_schedule(c, 10);  // 40 steps: 10 warm-up, 30 cosine
  CHECK(s(0) == Approx(0.0).margin(1e-12));
  CHECK(s(5) == Approx(0.05));
  CHECK(s(10) == Approx(0.1));
  CHECK(s(25) == Approx(0.05));
  CHECK(s(40) == Approx(0.0).margin(1e-12));
  for (int t = 0; t < 10; ++t) CHECK(s(t + 1) > s(t));
  for (int t = 10; t < 40; ++t) CHECK(s(t + 1) < s(t));
  SECTION("with a floor") {
    c.min_lr = 0.01;
    CHECK(train::make_schedule(c, 10)(40) == Approx(0.01));
  }
  SECTION("with half an epoch of warm-up") {
    c.warmup_epochs = 0.5;
    const auto h = train::make_schedule(c, 10);
    CHECK(h(5) == Approx(0.1));
    CHECK(h(40) == Approx(0.0).margin(1e-12));
  }
}

TEST_CASE("base_batch applies the linear scaling rule: lr x k, warmed up from lr (Goyal et al.)", "[train][schedule]") {
  // Batch 1024 = 4 x 256: the peak is 4 lr, reached after 5 epochs of a
  // straight climb from lr.
  train::Config c;
  c.lr = 0.1;
  c.batch = 1024;
  c.base_batch = 256;
  c.epochs = 20;
  c.warmup_epochs = 5;
  c.schedule = "constant";
  const auto s = train::make_schedule(c, 10);
  CHECK(s(0) == Approx(0.1));
  CHECK(s(25) == Approx(0.25));  // halfway up: lr (1 + (4 - 1) / 2)
  CHECK(s(50) == Approx(0.4));
  CHECK(s(199) == Approx(0.4));
  // base_batch 0 keeps lr as given (and the warm-up from 0).
  c.base_batch = 0;
  CHECK(train::make_schedule(c, 10)(0) == Approx(0.0).margin(1e-12));
  CHECK(train::make_schedule(c, 10)(50) == Approx(0.1));
  // A batch below the base scales down, with no warm-up from above the peak.
  c.base_batch = 2048;
  CHECK(train::make_schedule(c, 10)(0) == Approx(0.05));
  CHECK(train::make_schedule(c, 10)(60) == Approx(0.05));
}

TEST_CASE("make_schedule gives each named shape over the whole run", "[train][schedule]") {
  train::Config c;
  c.lr = 0.1;
  c.epochs = 4;
  c.warmup_epochs = 0;
  c.schedule = "constant";
  auto s = train::make_schedule(c, 10);
  CHECK(s(0) == 0.1);
  CHECK(s(39) == 0.1);
  c.schedule = "step";
  c.gamma = 0.1;
  s = train::make_schedule(c, 10);
  CHECK(s(19) == Approx(0.1));
  CHECK(s(20) == Approx(0.01));
  CHECK(s(29) == Approx(0.01));
  CHECK(s(30) == Approx(0.001));
  // Runs too short for two distinct milestones still get a schedule.
  for (std::int64_t steps : {1, 2, 3}) {
    c.epochs = 1;
    INFO(steps << " steps");
    REQUIRE_NOTHROW(s = train::make_schedule(c, steps));
    CHECK(s(0) > 0.0);
    CHECK(s(steps - 1) <= s(0));
  }
  c.epochs = 4;
  c.schedule = "linear";
  s = train::make_schedule(c, 10);
  CHECK(s(0) == Approx(0.1));
  CHECK(s(20) == Approx(0.05));
  CHECK(s(40) == Approx(0.0).margin(1e-12));
  c.schedule = "invsqrt";
  s = train::make_schedule(c, 10);
  CHECK(s(3) == Approx(0.05));
  c.schedule = "exponential";
  CHECK_THROWS_MATCHES(train::make_schedule(c, 10), ValueError, what(Contains("exponential")));
}

TEST_CASE("data_loss and regularization follow the config's names", "[train]") {
  const Tensor scores(xt::xarray<float>{{2.0f, 1.0f, 0.0f}, {0.0f, 0.5f, 3.0f}});
  const std::vector<std::int32_t> y{0, 1};
  // Softmax: the mean of -log(e^{s_y} / sum_j e^{s_j}), here by hand in double:
  // row 0: log(1 + e^-1 + e^-2); row 1: log(1 + e^0.5 + e^3) - 0.5.
  const double row0 = std::log(1.0 + std::exp(-1.0) + std::exp(-2.0));
  const double row1 = std::log(1.0 + std::exp(0.5) + std::exp(3.0)) - 0.5;
  CHECK(train::data_loss("softmax", scores, y).item() == Approx((row0 + row1) / 2).epsilon(1e-6));
  // SVM: row 0 has no violations; row 1: max(0, 0 - .5 + 1) + max(0, 3 - .5 + 1) = 0.5 + 3.5.
  CHECK(train::data_loss("svm", scores, y).item() == Approx(2.0));
  const Tensor w(xt::xarray<float>{1.0f, -2.0f});
  train::Config c;
  c.lambda = 0.5;
  c.reg = "l2";
  CHECK(train::regularization(c, std::vector<Tensor>{w}).item() == Approx(2.5));
  c.reg = "l1";
  CHECK(train::regularization(c, std::vector<Tensor>{w}).item() == Approx(1.5));
  c.reg = "elastic";
  c.beta = 2.0;
  CHECK(train::regularization(c, std::vector<Tensor>{w}).item() == Approx(0.5 * (2.0 * 5.0 + 3.0)));
  c.reg = "none";
  CHECK(train::regularization(c, std::vector<Tensor>{w}).item() == 0.0f);
  c.reg = "l2";
  c.lambda = 0.0;
  CHECK(train::regularization(c, std::vector<Tensor>{w}).item() == 0.0f);
}

TEST_CASE("load_dataset knows the spiral and names unknown sets", "[train][data]") {
  const data::Dataset tr = train::load_dataset("spiral", "", "train");
  const data::Dataset te = train::load_dataset("spiral", "", "test");
  CHECK(tr.size() == 900);
  CHECK(te.size() == 300);
  CHECK(tr.dim() == 2);
  CHECK(tr.num_classes() == 3);
  CHECK(tr.features != te.features);
  // The same points on every call.
  CHECK(train::load_dataset("spiral", "", "train").features == tr.features);
  CHECK_THROWS_MATCHES(train::load_dataset("imagenet", "", "train"), ValueError, what(Contains("imagenet")));
  CHECK_THROWS_MATCHES(train::load_dataset("mnist", "", "train"), ValueError, what(Contains("data-dir")));
}

// ---- the Trainer ---------------------------------------------------------------------------------

TEST_CASE("A Trainer rejects a bad config and a validation split as large as the data", "[train][trainer]") {
  train::Config c = spiral_config();
  c.lr = -1;
  CHECK_THROWS_MATCHES(train::Trainer(c, spiral_train()), ValueError, what(StartsWith("lr")));
  c = spiral_config();
  c.val_size = 900;
  CHECK_THROWS_MATCHES(train::Trainer(c, spiral_train()), ValueError, what(Contains("val_size")));
}

TEST_CASE("A Trainer splits the data, counts epochs and steps, and learns the spiral", "[train][trainer]") {
  train::Config c = spiral_config();
  c.hidden = {100};
  c.epochs = 40;
  c.batch = 32;
  c.lr = 2e-2;
  train::Trainer t(c, spiral_train());
  CHECK(t.split().val.size() == 180);
  CHECK(t.split().train.size() == 720);
  CHECK(t.total_steps() == 40 * 23);  // ceil(720 / 32) batches per epoch
  const auto params = t.model().named_parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].first == "layers.0.W");
  CHECK(params[0].second.shape() == Shape{2, 100});
  CHECK(params[2].first == "layers.2.W");  // layers.1 is the dropout
  CHECK(params[2].second.shape() == Shape{100, 3});
  const double before = t.evaluate(spiral_train(), t.split().val).accuracy;
  std::size_t callbacks = 0;
  train::EpochStats first = t.run_epoch([&](std::size_t i, std::size_t n, double loss) {
    CHECK(i == callbacks);
    CHECK(n == 23);
    CHECK(std::isfinite(loss));
    ++callbacks;
  });
  CHECK(callbacks == 23);
  CHECK(first.epoch == 1);
  CHECK(t.step() == 23);
  CHECK(first.data_loss > 0.0);
  CHECK(first.reg_loss > 0.0);
  CHECK(first.lr == Approx(t.lr_at(22)));
  train::EpochStats last = first;
  while (!t.done()) last = t.run_epoch();
  CHECK(t.epochs_done() == 40);
  CHECK(last.epoch == 40);
  CHECK(t.step() == t.total_steps());
  INFO("val accuracy before " << before << ", after " << last.val_accuracy);
  CHECK(last.data_loss < first.data_loss);
  CHECK(last.val_accuracy >= 0.95);
  CHECK(last.train_accuracy >= 0.9);
  // evaluate() agrees with the epoch's validation figures and scores the test split.
  const train::Evaluation v = t.evaluate(spiral_train(), t.split().val);
  CHECK(v.accuracy == last.val_accuracy);
  CHECK(v.data_loss == Approx(last.val_loss));
  CHECK(t.evaluate(train::load_dataset("spiral", "", "test")).accuracy >= 0.9);
}

TEST_CASE("evaluate rejects data of another width", "[train][trainer]") {
  train::Trainer t(spiral_config(), spiral_train());
  Rng rng(1);
  data::Dataset wide = data::spiral(3, 10, rng);
  wide.cols = 3;
  wide.features.resize(wide.size() * 3);
  CHECK_THROWS_AS(t.evaluate(wide), ShapeError);
}

TEST_CASE("A checkpoint round-trips the run: parameters, optimizer state, step and config", "[train][checkpoint]") {
  TempDir dir("train_roundtrip");
  const fs::path path = dir.path / "run.ckpt";
  train::Trainer t(spiral_config(), spiral_train());
  t.run_epoch();
  t.save(path);
  REQUIRE(fs::exists(path));
  const auto r = train::Trainer::resume(path, spiral_train());
  CHECK(bitwise_equal(param_values(*r), param_values(t)));
  CHECK(r->step() == t.step());
  CHECK(r->epochs_done() == 1);
  CHECK(r->config().to_text() == t.config().to_text());
  CHECK(r->optimizer().state() == t.optimizer().state());
  CHECK(r->split().val == t.split().val);
  CHECK(r->evaluate(spiral_train(), r->split().val).accuracy ==
        t.evaluate(spiral_train(), t.split().val).accuracy);
  // Names survive too (the checkpoint keys are the parameter names).
  CHECK(r->model().parameters()[0].name() == "layers.0.W");
  SECTION("a new number of epochs replaces the saved one") {
    const auto longer = train::Trainer::resume(path, spiral_train(), 9);
    CHECK(longer->config().epochs == 9);
    CHECK(longer->total_steps() == 9 * 15);  // ceil(720 / 50)
  }
}

TEST_CASE("Resuming after 2 of 4 epochs ends bitwise identical to 4 epochs straight", "[train][checkpoint]") {
  TempDir dir("train_resume");
  const fs::path path = dir.path / "half.ckpt";
  const std::string optimizer = GENERATE(std::string("adamw"), std::string("nesterov"), std::string("rmsprop"));
  INFO("optimizer " << optimizer);
  train::Config c = spiral_config();
  c.optimizer = optimizer;
  if (optimizer != "adamw") c.lr = 1e-3;

  train::Trainer straight(c, spiral_train());
  while (!straight.done()) straight.run_epoch();

  std::vector<std::vector<float>> mid;
  {
    train::Trainer first(c, spiral_train());
    first.run_epoch();
    first.run_epoch();
    first.save(path);
    mid = param_values(first);
  }
  const auto resumed = train::Trainer::resume(path, spiral_train());
  CHECK(resumed->epochs_done() == 2);
  CHECK_FALSE(resumed->done());
  CHECK(bitwise_equal(param_values(*resumed), mid));
  train::EpochStats last;
  while (!resumed->done()) last = resumed->run_epoch();
  CHECK(last.epoch == 4);
  CHECK(resumed->step() == straight.step());
  CHECK(resumed->epochs_done() == straight.epochs_done());
  CHECK(bitwise_equal(param_values(*resumed), param_values(straight)));
  CHECK_FALSE(bitwise_equal(param_values(*resumed), mid));  // it did train further
  CHECK(resumed->optimizer().state() == straight.optimizer().state());
}

TEST_CASE("Resume refuses another data set, a missing file and a file that is not a checkpoint", "[train][checkpoint]") {
  TempDir dir("train_refuse");
  const fs::path path = dir.path / "run.ckpt";
  {
    train::Trainer t(spiral_config(), spiral_train());
    t.save(path);
  }
  data::Dataset other = spiral_train();
  other.name = "not-spiral";
  CHECK_THROWS_MATCHES(train::Trainer::resume(path, other), IoError,
                       what(Contains("not-spiral") && Contains(path.string())));
  CHECK_THROWS_AS(train::Trainer::resume(dir.path / "missing.ckpt", spiral_train()), IoError);
  const fs::path junk = dir.path / "junk.ckpt";
  std::ofstream(junk) << "this is not a checkpoint\n";
  CHECK_THROWS_MATCHES(train::Trainer::resume(junk, spiral_train()), IoError, what(Contains("junk.ckpt")));
  // A flipped byte is caught by the checksum.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(bytes.size() > 64);
  bytes[bytes.size() - 5] ^= 0x01;
  const fs::path flipped = dir.path / "flipped.ckpt";
  std::ofstream(flipped, std::ios::binary) << bytes;
  CHECK_THROWS_AS(train::Trainer::resume(flipped, spiral_train()), IoError);
}

TEST_CASE("A diverging run throws NumericError naming the step", "[train][nan]") {
  train::Config c = spiral_config();
  c.optimizer = "sgd";
  c.lr = 1e10;
  c.warmup_epochs = 0;
  c.schedule = "constant";
  c.epochs = 20;
  train::Trainer t(c, spiral_train());
  std::string message;
  try {
    while (!t.done()) t.run_epoch();
  } catch (const NumericError& e) {
    message = e.what();
  }
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK_THAT(message, StartsWith("step " + std::to_string(t.step() + 1) + ":"));
  CHECK_THAT(message, Contains("learning rate"));
  CHECK(t.step() < t.total_steps());
}

TEST_CASE("Two epochs on 3000 Fashion-MNIST images reach well above chance", "[train][fashion-mnist]") {
  // Missing data is a failure, not a skip: CI installs the package.
  INFO("Fashion-MNIST must be installed at " << data::kFashionMnistDir << " (Debian: dataset-fashion-mnist)");
  REQUIRE(fs::is_directory(data::kFashionMnistDir));
  const data::Dataset full = data::fashion_mnist("train");
  const data::Dataset full_test = data::fashion_mnist("test");
  Rng rng(5);
  std::vector<std::size_t> idx = data::all_indices(full.size());
  rng.shuffle(idx.begin(), idx.end());
  idx.resize(3000);
  const data::Dataset train_set = data::subset(full, idx);
  std::vector<std::size_t> tidx = data::all_indices(full_test.size());
  rng.shuffle(tidx.begin(), tidx.end());
  tidx.resize(1000);
  const data::Dataset test_set = data::subset(full_test, tidx);
  REQUIRE(train_set.size() == 3000);

  train::Config c;
  c.model = "linear";
  c.optimizer = "adamw";
  c.lr = 3e-3;
  c.epochs = 2;
  c.batch = 64;
  c.val_size = 500;
  c.warmup_epochs = 0.2;
  train::Trainer t(c, train_set);
  const double before = t.evaluate(test_set).accuracy;
  train::EpochStats last;
  while (!t.done()) last = t.run_epoch();
  const double test_acc = t.evaluate(test_set).accuracy;
  INFO("test accuracy before " << before << ", after " << test_acc << "; val " << last.val_accuracy);
  CHECK(last.val_accuracy > 0.6);
  CHECK(test_acc > 0.6);
  CHECK(test_acc > before + 0.3);
}
