// state_dict files (nn/state.hpp): save/load round trips in both element
// types, what a load refuses (and that it then changes nothing), exported
// models rebuilt by train::load_model, and a file written by PyTorch.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "slope/data.hpp"
#include "slope/io.hpp"
#include "slope/nn.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::Equals;

namespace {

const bool single_thread = use_one_blas_thread();

template <class T>
std::vector<std::vector<T>> values_of(const nn::Module<T>& m) {
  std::vector<std::vector<T>> out;
  for (const auto& p : m.parameters()) out.emplace_back(p.data(), p.data() + p.size());
  return out;
}

// The bytes of every parameter: what "bitwise" and "unchanged" compare.
template <class T>
Bytes bytes_of(const nn::Module<T>& m) {
  Bytes out;
  for (const auto& p : m.parameters()) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(p.data());
    out.insert(out.end(), b, b + p.size() * sizeof(T));
  }
  return out;
}

nn::MLPOptions tanh_dropout() { return nn::MLPOptions{.activation = "tanh", .dropout = {0.2, 0.1}}; }

// The parameter named `name` of a state_dict, as floats, changed by `f`.
void edit_f32(io::TensorFile& f, const std::string& name, const std::function<void(std::vector<float>&)>& edit) {
  io::Array& a = f.tensors.at(name);
  std::vector<float> v = a.to_vector<float>();
  edit(v);
  a = io::Array::from<float>(v, a.shape);
}

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

}  // namespace

// ---- round trips --------------------------------------------------------------------------

TEST_CASE("save then load round-trips a float and a double model bitwise, with the architecture in the metadata",
          "[state]") {
  TempDir dir("state_roundtrip");
  Rng a(1), b(2);
  SECTION("float") {
    const nn::MLP<float> saved({4, 6, 5, 3}, a, tanh_dropout());
    nn::MLP<float> loaded({4, 6, 5, 3}, b, tanh_dropout());
    REQUIRE(bytes_of(loaded) != bytes_of(saved));  // other weights until loaded
    nn::save(saved, dir / "m.safetensors", {{"note", "hello"}});
    const auto meta = nn::load(loaded, dir / "m.safetensors");
    CHECK(bytes_of(loaded) == bytes_of(saved));
    CHECK(meta.at("slope.architecture") == saved.describe());
    CHECK(meta.at("note") == "hello");
    // The file holds one f32 tensor per parameter, under its dotted name.
    const io::TensorFile f = io::load_safetensors(dir / "m.safetensors");
    REQUIRE(f.tensors.size() == saved.named_parameters().size());
    for (const auto& [name, p] : saved.named_parameters()) {
      INFO(name);
      REQUIRE(f.tensors.count(name) == 1);
      CHECK(f.tensors.at(name).dtype == io::DType::f32);
      CHECK(f.tensors.at(name).shape == p.shape());
    }
  }
  SECTION("double") {
    const nn::MLP<double> saved({4, 6, 3}, a);
    nn::MLP<double> loaded({4, 6, 3}, b);
    REQUIRE(bytes_of(loaded) != bytes_of(saved));
    nn::save(saved, dir / "d.safetensors");
    nn::load(loaded, dir / "d.safetensors");
    CHECK(bytes_of(loaded) == bytes_of(saved));
    CHECK(io::load_safetensors(dir / "d.safetensors").tensors.at("layers.0.W").dtype == io::DType::f64);
  }
}

TEST_CASE("load converts the other element type: float files into double models and back", "[state]") {
  TempDir dir("state_convert");
  Rng a(3), b(4);
  const nn::MLP<float> f({3, 4, 2}, a);
  nn::MLP<double> d({3, 4, 2}, b);
  REQUIRE(values_of(d)[0][0] != static_cast<double>(values_of(f)[0][0]));
  nn::save(f, dir / "f.safetensors");
  nn::load(d, dir / "f.safetensors");
  const auto fv = values_of(f);
  auto dv = values_of(d);
  for (std::size_t i = 0; i < fv.size(); ++i)
    for (std::size_t j = 0; j < fv[i].size(); ++j) CHECK(dv[i][j] == static_cast<double>(fv[i][j]));
  // Double values that are not floats come back rounded to the nearest float.
  for (auto& p : d.parameters())
    for (auto& v : p.mutable_value()) v = v / 3.0 + 1e-3;
  nn::save(d, dir / "d.safetensors");
  nn::MLP<float> g({3, 4, 2}, a);
  REQUIRE(values_of(g)[0][0] != static_cast<float>(values_of(d)[0][0]));
  nn::load(g, dir / "d.safetensors");
  dv = values_of(d);
  const auto gv = values_of(g);
  for (std::size_t i = 0; i < gv.size(); ++i)
    for (std::size_t j = 0; j < gv[i].size(); ++j) CHECK(gv[i][j] == static_cast<float>(dv[i][j]));
}

// ---- what a load refuses --------------------------------------------------------------------

TEST_CASE("A state_dict with missing and unexpected names is refused, listing both, and changes nothing",
          "[state][errors]") {
  Rng rng(5);
  const nn::MLP<float> source({3, 4, 2}, rng);
  nn::MLP<float> model({3, 4, 2}, rng);
  const Bytes before = bytes_of(model);
  io::TensorFile f = nn::state_dict(source);
  f.tensors["layers.0.bias"] = f.tensors.at("layers.0.b");
  f.tensors.erase("layers.0.b");
  f.tensors.erase("layers.1.b");
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f, "my.safetensors"), ValueError,
                       what(Equals("my.safetensors: does not match MLP: missing layers.0.b, layers.1.b; "
                                   "unexpected layers.0.bias")));
  CHECK(bytes_of(model) == before);
  f = nn::state_dict(source);
  f.tensors["extra"] = f.tensors.at("layers.1.b");
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f), ValueError,
                       what(Equals("state_dict: does not match MLP: missing none; unexpected extra")));
  CHECK(bytes_of(model) == before);
}

TEST_CASE("A state_dict with another shape, a NaN or Inf, or an integer dtype is refused and changes nothing",
          "[state][errors]") {
  Rng rng(6);
  const nn::MLP<float> source({3, 4, 2}, rng);
  nn::MLP<float> model({3, 4, 2}, rng);
  const Bytes before = bytes_of(model);
  // The bad entry is the last parameter, so a load that copied as it checked
  // would already have changed the others.
  io::TensorFile f = nn::state_dict(source);
  f.tensors.at("layers.1.W").shape = {2, 4};
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f, "x"), ShapeError,
                       what(Equals("x: 'layers.1.W' has shape (2, 4) in the file, the model's is (4, 2)")));
  CHECK(bytes_of(model) == before);

  f = nn::state_dict(source);
  edit_f32(f, "layers.1.b", [](std::vector<float>& v) { v[1] = std::numeric_limits<float>::quiet_NaN(); });
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f, "x"), NumericError,
                       what(Equals("x: 'layers.1.b' holds NaN at entry 1")));
  CHECK(bytes_of(model) == before);
  f = nn::state_dict(source);
  edit_f32(f, "layers.1.W", [](std::vector<float>& v) { v[7] = -std::numeric_limits<float>::infinity(); });
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f, "x"), NumericError,
                       what(Equals("x: 'layers.1.W' holds Inf at entry 7")));
  CHECK(bytes_of(model) == before);
  // A finite double too large for a float becomes Inf in a float model: refused too.
  f = nn::state_dict(source);
  const std::vector<double> huge{1e300, 0.0};
  f.tensors.at("layers.1.b") = io::Array::from<double>(huge, {2});
  CHECK_THROWS_AS(nn::load_state_dict(model, f, "x"), NumericError);
  CHECK(bytes_of(model) == before);

  f = nn::state_dict(source);
  const std::vector<std::int32_t> ints{1, 2};
  f.tensors.at("layers.1.b") = io::Array::from<std::int32_t>(ints, {2});
  CHECK_THROWS_MATCHES(nn::load_state_dict(model, f, "x"), ValueError,
                       what(Equals("x: 'layers.1.b' is i32; parameters are f32 or f64")));
  CHECK(bytes_of(model) == before);
}

TEST_CASE("nn::load names the file in its errors and leaves the model as it was", "[state][errors]") {
  TempDir dir("state_errors");
  Rng rng(7);
  const nn::MLP<float> small({3, 4, 2}, rng);
  nn::MLP<float> big({3, 5, 2}, rng);
  const Bytes before = bytes_of(big);
  nn::save(small, dir / "small.safetensors");
  CHECK_THROWS_MATCHES(nn::load(big, dir / "small.safetensors"), ShapeError,
                       what(Contains((dir / "small.safetensors").string() + ": 'layers.0.W' has shape (3, 4)")));
  CHECK(bytes_of(big) == before);
  CHECK_THROWS_AS(nn::load(big, dir / "missing.safetensors"), IoError);
}

// ---- exported models ----------------------------------------------------------------------------

TEST_CASE("Trainer::export_model and load_model rebuild the model: same weights, bitwise-equal scores",
          "[state][export]") {
  struct Case {
    const char* model;
    std::vector<std::size_t> hidden;
    const char* activation;
    std::vector<double> dropout;
    std::size_t blocks;
  };
  const Case c = GENERATE(Case{"mlp", {16, 8}, "tanh", {0.2, 0.1}, 1}, Case{"residual", {16}, "gelu", {0.1}, 2},
                          Case{"linear", {16}, "relu", {0.0}, 1}, Case{"two-layer", {12}, "sigmoid", {0.3}, 1});
  INFO(c.model << " " << c.activation);
  TempDir dir("state_export");
  train::Config config;
  config.model = c.model;
  config.hidden = c.hidden;
  config.activation = c.activation;
  config.dropout = c.dropout;
  config.blocks = c.blocks;
  config.epochs = 1;
  config.batch = 64;
  config.val_size = 180;
  config.lr = 1e-2;
  train::Trainer t(config, spiral_train());
  t.run_epoch();
  t.export_model(dir / "model.safetensors");

  const train::SavedModel m = train::load_model(dir / "model.safetensors");
  CHECK(m.dataset == "spiral");
  CHECK(m.inputs == 2);
  CHECK(m.classes == 3);
  CHECK(m.config.model_text() == config.model_text());
  CHECK(m.model->describe() == t.model().describe());
  CHECK(m.preprocess.scale == t.preprocess().scale);
  CHECK(m.preprocess.mean == t.preprocess().mean);
  CHECK(bytes_of(*m.model) == bytes_of(t.model()));
  // Scores of the test split in evaluation mode: bitwise equal.
  const data::Dataset test = train::load_dataset("spiral", "", "test");
  const auto all = data::all_indices(test.size());
  const data::Batch<float> b1 = data::batch<float>(test, all, t.preprocess());
  const data::Batch<float> b2 = data::batch<float>(test, all, m.preprocess);
  t.model().eval();
  m.model->eval();
  const Tensor s1 = t.model()(b1.x), s2 = (*m.model)(b2.x);
  REQUIRE(s1.shape() == s2.shape());
  CHECK(std::memcmp(s1.data(), s2.data(), s1.size() * sizeof(float)) == 0);
  const train::Evaluation e1 = t.evaluate(test);
  const train::Evaluation e2 = train::evaluate(*m.model, test, m.preprocess, [](const Tensor& s, auto y) {
    return softmax_cross_entropy(s, y);
  });
  CHECK(e1.accuracy == e2.accuracy);
  CHECK(e1.data_loss == e2.data_loss);
}

TEST_CASE("load_model refuses a file without slope metadata or with inconsistent sizes, naming the file",
          "[state][export]") {
  TempDir dir("state_load_model");
  train::Config config;
  config.model = "mlp";
  config.hidden = {8};
  config.epochs = 1;
  config.val_size = 100;
  train::Trainer t(config, spiral_train());
  const fs::path good = dir / "good.safetensors";
  t.export_model(good);
  REQUIRE_NOTHROW(train::load_model(good));

  const fs::path plain = dir / "plain.safetensors";
  nn::save(t.model(), plain);  // a state_dict without the Trainer's metadata
  require_io_error([&] { train::load_model(plain); }, plain, "no 'slope.model' metadata");

  const auto with = [&](const std::string& key, const std::string& value) {
    io::TensorFile f = io::load_safetensors(good);
    f.metadata[key] = value;
    const fs::path p = dir / ("bad_" + std::to_string(f.metadata.size()) + key + ".safetensors");
    io::save_safetensors(p, f);
    return p;
  };
  fs::path p = with("slope.inputs", "3");
  require_io_error([&] { train::load_model(p); }, p, "the mlp model of its metadata has 59 parameters, the file 51");
  p = with("slope.model", "model=mlp\nhidden=9\n");
  require_io_error([&] { train::load_model(p); }, p, "parameters, the file 51");
  p = with("slope.classes", "0");
  require_io_error([&] { train::load_model(p); }, p, "implausible sizes");
  p = with("slope.inputs", "two");
  require_io_error([&] { train::load_model(p); }, p, "'slope.inputs' is not a count");
  p = with("slope.model", "model=cnn\n");
  require_io_error([&] { train::load_model(p); }, p, "model must be one of");
  // The examples' shape, recorded since slope.image exists: it must hold the inputs.
  CHECK(train::load_model(good).rows == 1);
  CHECK(train::load_model(good).cols == 2);
  p = with("slope.image", "1x1x3");
  require_io_error([&] { train::load_model(p); }, p, "'slope.image' 1x1x3 does not hold the 2 inputs");
  p = with("slope.image", "1x2");
  require_io_error([&] { train::load_model(p); }, p, "'slope.image' is not CxHxW: '1x2'");
  p = with("slope.image", "1x18446744073709551615x2");
  require_io_error([&] { train::load_model(p); }, p, "does not hold the 2 inputs");
  p = with("slope.preprocess", "{\"scale\": 1, \"mean\": [0.5]}");
  require_io_error([&] { train::load_model(p); }, p, "1 means for examples of 2 values");
  // Same sizes, other names: the state_dict check, still naming the file.
  io::TensorFile f = io::load_safetensors(good);
  f.tensors["layers.2.bias"] = f.tensors.at("layers.2.b");
  f.tensors.erase("layers.2.b");
  p = dir / "renamed.safetensors";
  io::save_safetensors(p, f);
  require_io_error([&] { train::load_model(p); }, p, "missing layers.2.b; unexpected layers.2.bias");
}

TEST_CASE("A residual tanh net written from torch.nn layers loads into slope and gives torch's scores",
          "[state][torch]") {
  // tests/interop/make_torch_fixture.py wrote these with PyTorch; the suite needs no torch.
  const fs::path base = fs::path(SLOPE_SOURCE_DIR) / "tests/interop/fixtures/torch_residual_tanh";
  const train::SavedModel m = train::load_model(base.string() + ".safetensors");
  CHECK(m.model->describe() ==
        "MLP(layers: Sequential(0: Sequential(0: Linear(6, 8), 1: Tanh()), "
        "1: Residual(fn: Sequential(0: Linear(8, 8), 1: Tanh())), 2: Linear(8, 4)))");
  const io::Array inputs = io::read_npy(base.string() + ".inputs.npy");
  const std::vector<double> want = io::read_npy(base.string() + ".scores.npy").to_vector<double>();
  REQUIRE(inputs.shape == Shape{16, 6});
  REQUIRE(want.size() == 16 * 4);
  data::Dataset d;
  d.rows = 1;
  d.cols = 6;
  d.features = inputs.to_vector<float>();
  d.labels.assign(16, 0);
  const auto all = data::all_indices(16);
  Rng rng(0);
  auto twin = train::make_model<double>(m.config, m.inputs, m.classes, rng);
  nn::load(*twin, base.string() + ".safetensors");
  m.model->eval();
  twin->eval();
  const Tensor s = (*m.model)(data::batch<float>(d, all, m.preprocess).x);
  const Tensor64 s64 = (*twin)(data::batch<double>(d, all, m.preprocess).x);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("score " << i);
    CHECK(s64.data()[i] == Approx(want[i]).epsilon(1e-12).margin(1e-12));
    CHECK(s.data()[i] == Approx(want[i]).epsilon(1e-5).margin(1e-5));
  }
}
