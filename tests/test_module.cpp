// The module contract (nn/module.hpp): registration and dotted names, the
// rules for names, weight tying, handles, train/eval modes, zero_grad, the
// weight matrices, float <-> float64 twins and gradcheck of a user's model,
// and the describe() texts.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "slope/gradcheck.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/ops.hpp"
#include "slope/optim.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

const bool single_thread = use_one_blas_thread();

// A module that lets the test register things from outside, as a user's
// constructor would from inside. It defines no forward().
template <class T>
struct Bag : nn::Module<T> {
  using nn::Module<T>::register_parameter;
  using nn::Module<T>::register_module;
};

// The user's model of the tutorial: h = tanh(x W1 + b1); h = h + tanh(h W2 + b2); scores = h W3 + b3.
template <class T>
struct ResidualTanh : nn::Module<T> {
  nn::Linear<T> in, mid, out;
  ResidualTanh(std::size_t inputs, std::size_t hidden, std::size_t classes, Rng& rng)
      : in(this->register_module("in", nn::Linear<T>(inputs, hidden, rng, nn::Init::xavier()))),
        mid(this->register_module("mid", nn::Linear<T>(hidden, hidden, rng, nn::Init::xavier()))),
        out(this->register_module("out", nn::Linear<T>(hidden, classes, rng, nn::Init::xavier()))) {}
  TensorT<T> forward(const TensorT<T>& x) const override {
    TensorT<T> h = tanh(in(x));
    h = h + tanh(mid(h));  // the skip connection
    return out(h);
  }
};

template <class T>
std::vector<std::string> names_of(const nn::Module<T>& m) {
  std::vector<std::string> out;
  for (const auto& [name, t] : m.named_parameters()) out.push_back(name);
  return out;
}

// Every parameter's bytes, in order: to tell "unchanged" from "changed".
template <class T>
std::vector<std::vector<T>> values_of(const nn::Module<T>& m) {
  std::vector<std::vector<T>> out;
  for (const auto& p : m.parameters()) out.emplace_back(p.data(), p.data() + p.size());
  return out;
}

// Visits a module and all its submodules, depth first.
template <class T, class F>
void visit(const nn::Module<T>& m, F&& f) {
  f(m);
  for (const auto& [name, child] : m.children()) visit(*child, f);
}

Tensor input(std::size_t n, std::size_t d, Rng& rng) { return Tensor(randn<float>({n, d}, rng).value()); }

}  // namespace

// ---- names --------------------------------------------------------------------------------

TEST_CASE("Own parameters come first, then each submodule's in registration order, with dotted names",
          "[module][names]") {
  Rng rng(1);
  Bag<float> root;
  const Tensor scale = root.register_parameter("zeta", ones<float>({2}, true));
  root.register_parameter("alpha", zeros<float>({2}, true));  // registration order, not alphabetical
  const nn::Linear<float> enc = root.register_module("enc", nn::Linear<float>(3, 4, rng));
  nn::Sequential<float> layers;
  layers.add(nn::Linear<float>(4, 4, rng));
  layers.add(nn::Residual<float>(nn::Linear<float>(4, 4, rng)));
  nn::Sequential<float> block;
  block.add(nn::Linear<float>(4, 4, rng));
  block.add(nn::Tanh<float>());
  layers.add(nn::Residual<float>(block));
  root.register_module("layers", layers);

  const std::vector<std::string> expected{"zeta",         "alpha",        "enc.W",          "enc.b",
                                          "layers.0.W",   "layers.0.b",   "layers.1.fn.W",  "layers.1.fn.b",
                                          "layers.2.fn.0.W", "layers.2.fn.0.b"};
  CHECK(names_of(root) == expected);
  CHECK(names_of(root) == names_of(root));  // stable from call to call
  // The entries are the members themselves, not copies.
  const auto named = root.named_parameters();
  CHECK(named[0].second.is_same(scale));
  CHECK(named[2].second.is_same(enc.W));
  CHECK(named[3].second.is_same(enc.b));
  // A model built the same way again has the same names, and the Tensor names
  // follow them after name_parameters().
  Rng rng2(1);
  const ResidualTanh<float> a(3, 5, 2, rng), b(3, 5, 2, rng2);
  CHECK(names_of(a) == names_of(b));
  CHECK(names_of(a) == std::vector<std::string>{"in.W", "in.b", "mid.W", "mid.b", "out.W", "out.b"});
  nn::name_parameters(root);
  for (const auto& [name, t] : root.named_parameters()) CHECK(t.name() == name);
}

TEST_CASE("Duplicate, empty and dotted names and a parameter without a gradient are ValueErrors",
          "[module][names]") {
  Rng rng(2);
  Bag<float> m;
  m.register_parameter("W", ones<float>({2, 2}, true));
  m.register_module("child", nn::Linear<float>(2, 2, rng));
  const auto before = names_of(m);
  CHECK_THROWS_MATCHES(m.register_parameter("W", ones<float>({2}, true)), ValueError,
                       what(Equals("Bag: the name 'W' is already registered")));
  CHECK_THROWS_MATCHES(m.register_module("W", nn::Linear<float>(2, 2, rng)), ValueError,
                       what(Equals("Bag: the name 'W' is already registered")));
  CHECK_THROWS_MATCHES(m.register_parameter("child", ones<float>({2}, true)), ValueError,
                       what(Equals("Bag: the name 'child' is already registered")));
  CHECK_THROWS_MATCHES(m.register_parameter("", ones<float>({2}, true)), ValueError,
                       what(Equals("Bag: a parameter or submodule name must be non-empty and without '.': got ''")));
  CHECK_THROWS_MATCHES(m.register_module("a.b", nn::Linear<float>(2, 2, rng)), ValueError,
                       what(Equals("Bag: a parameter or submodule name must be non-empty and without '.': got 'a.b'")));
  CHECK_THROWS_MATCHES(m.register_parameter("c", ones<float>({2})), ValueError,
                       what(Equals("Bag: parameter 'c' does not require a gradient")));
  CHECK(names_of(m) == before);  // a refused registration changes nothing
  // Sequential's indices never collide, however many layers it holds.
  nn::Sequential<float> seq;
  for (int i = 0; i < 12; ++i) seq.add(nn::Tanh<float>());
  CHECK(seq.size() == 12);
  CHECK(seq.children().back().first == "11");
}

TEST_CASE("A tensor registered twice (weight tying) is listed once, under its first name", "[module][names]") {
  Rng rng(3);
  Bag<float> m;
  const Tensor shared = randn<float>({3, 3}, rng, 1.0, 0.0, true);
  m.register_parameter("embed", shared);
  Bag<float> head;
  head.register_parameter("tied", shared);
  head.register_parameter("bias", zeros<float>({3}, true));
  m.register_module("head", head);
  CHECK(names_of(m) == std::vector<std::string>{"embed", "head.bias"});
  REQUIRE(m.parameters().size() == 2);
  CHECK(m.parameters()[0].is_same(shared));
  // The same submodule under two names: its parameters are listed once, too.
  Bag<float> twice;
  const nn::Linear<float> lin = twice.register_module("first", nn::Linear<float>(2, 2, rng));
  twice.register_module("second", lin);
  CHECK(names_of(twice) == std::vector<std::string>{"first.W", "first.b"});
  // An optimizer over named_parameters() accepts the tied model (no tensor twice).
  CHECK_NOTHROW(optim::SGD<float>(m.named_parameters(), {.lr = 0.1}));
}

// ---- handles and modes ----------------------------------------------------------------------

TEST_CASE("A copy of a module is a handle: it shares parameters, submodules and mode", "[module][handle]") {
  Rng rng(4);
  nn::Linear<float> a(3, 2, rng);
  nn::Linear<float> b = a;
  b.W.mutable_value()(0, 0) = 42.0f;
  CHECK(a.W.value()(0, 0) == 42.0f);
  CHECK(a.named_parameters()[0].second.is_same(b.named_parameters()[0].second));
  b.eval();
  CHECK_FALSE(a.is_training());
  a.train();
  CHECK(b.is_training());
  // A layer appended through one handle of a Sequential is seen through the other.
  nn::Sequential<float> s;
  s.add(nn::Linear<float>(3, 4, rng));
  nn::Sequential<float> t = s;
  t.add(nn::Linear<float>(4, 2, rng));
  CHECK(s.size() == 2);
  CHECK(names_of(s) == std::vector<std::string>{"0.W", "0.b", "1.W", "1.b"});
  CHECK(s(input(5, 3, rng)).shape() == Shape{5, 2});
  // What a parent registers is the member the user keeps.
  Bag<float> parent;
  const nn::Linear<float> kept = parent.register_module("lin", nn::Linear<float>(2, 2, rng));
  parent.eval();
  CHECK_FALSE(kept.is_training());
  CHECK(parent.parameters()[0].is_same(kept.W));
}

TEST_CASE("train() and eval() reach every submodule, and Dropout drops only while training", "[module][mode]") {
  Rng rng(5);
  nn::Sequential<float> inner;
  inner.add(nn::Linear<float>(8, 8, rng));
  inner.add(nn::Dropout<float>(0.5, rng));
  nn::Sequential<float> outer;
  outer.add(nn::Residual<float>(inner));
  outer.add(nn::Dropout<float>(0.5, rng));
  const nn::Dropout<float> last = outer.add(nn::Dropout<float>(0.25, rng));
  std::size_t modules = 0;
  visit(outer, [&](const nn::Module<float>& m) {
    CHECK(m.is_training());  // the default
    ++modules;
  });
  CHECK(modules == 7);  // outer, residual, inner, linear, dropout, dropout, dropout
  outer.eval();
  visit(outer, [](const nn::Module<float>& m) { CHECK_FALSE(m.is_training()); });

  const Tensor x = ones<float>({100, 40});
  // Evaluation: the identity, the very tensor that came in.
  CHECK(last(x).is_same(x));
  outer.train();
  visit(outer, [](const nn::Module<float>& m) { CHECK(m.is_training()); });
  // Training: each entry is 0 or 1 / (1 - p), about p of them 0.
  const Tensor y = last(x);
  std::size_t dropped = 0;
  for (float v : y.value()) {
    if (v == 0.0f) ++dropped;
    else CHECK(v == 1.0f / 0.75f);
  }
  CHECK(static_cast<double>(dropped) / 4000.0 == Approx(0.25).margin(0.03));
  outer.train(false);  // the same as eval()
  CHECK_FALSE(last.is_training());
  CHECK_THROWS_AS(nn::Dropout<float>(1.0, rng), ValueError);
}

TEST_CASE("zero_grad zeroes every parameter's gradient and keeps its buffer", "[module]") {
  Rng rng(6);
  const ResidualTanh<float> m(4, 6, 3, rng);
  const std::vector<std::int32_t> y{0, 1, 2, 1, 0};
  softmax_cross_entropy(m(input(5, 4, rng)), y).backward();
  std::vector<const float*> buffers;
  for (const auto& p : m.parameters()) {
    REQUIRE(p.has_grad());
    double norm = 0.0;
    for (float g : p.grad()) norm += std::abs(g);
    CHECK(norm > 0.0);
    buffers.push_back(p.grad().data());
  }
  ResidualTanh<float>(m).zero_grad();  // through a copy of the handle
  const auto params = m.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    REQUIRE(params[i].has_grad());
    CHECK(params[i].grad().data() == buffers[i]);
    for (float g : params[i].grad()) CHECK(g == 0.0f);
  }
}

TEST_CASE("nn::weights are the parameters with two or more dimensions", "[module]") {
  Rng rng(7);
  Bag<float> m;
  m.register_parameter("gain", ones<float>({4}, true));
  m.register_parameter("cube", ones<float>({2, 2, 2}, true));
  m.register_parameter("scalar", scalar<float>(1.0f, true));
  m.register_module("lin", nn::Linear<float>(4, 3, rng));
  std::vector<std::string> names;
  for (const auto& [name, t] : nn::named_weights(m)) names.push_back(name);
  CHECK(names == std::vector<std::string>{"cube", "lin.W"});
  const auto w = nn::weights(m);
  REQUIRE(w.size() == 2);
  CHECK(w[1].shape() == Shape{4, 3});
  const nn::MLP<float> mlp({5, 4, 3}, rng);
  CHECK(nn::weights(mlp).size() == 2);
  CHECK(nn::weights(mlp)[1].is_same(mlp.layers()[1].W));
}

// ---- conversion and gradcheck -----------------------------------------------------------------

TEST_CASE("copy_parameters gives a float model's float64 twin the same values, and back", "[module][twin]") {
  Rng a(8), b(9);
  const nn::MLP<float> f({3, 5, 2}, a, nn::MLPOptions{.activation = "tanh"});
  nn::MLP<double> d({3, 5, 2}, b, nn::MLPOptions{.activation = "tanh"});
  const auto fp = f.parameters();
  auto dp = d.parameters();
  CHECK(dp[0].value()(0, 0) != static_cast<double>(fp[0].value()(0, 0)));  // different to begin with
  nn::copy_parameters(f, d);
  for (std::size_t i = 0; i < fp.size(); ++i)
    for (std::size_t j = 0; j < fp[i].size(); ++j) CHECK(dp[i].data()[j] == static_cast<double>(fp[i].data()[j]));
  // Back: the float model takes the double values, rounded to float.
  for (auto& v : dp[2].mutable_value()) v = v / 3.0;
  nn::MLP<float> g({3, 5, 2}, b, nn::MLPOptions{.activation = "tanh"});
  nn::copy_parameters(d, g);
  const auto gp = g.parameters();
  for (std::size_t j = 0; j < gp[2].size(); ++j) CHECK(gp[2].data()[j] == static_cast<float>(dp[2].data()[j]));
}

TEST_CASE("copy_parameters refuses other shapes and other names, naming the parameter, and changes nothing",
          "[module][twin]") {
  Rng rng(10);
  const nn::MLP<float> f({3, 5, 2}, rng);
  nn::MLP<double> wider({3, 6, 2}, rng);
  const auto before = values_of(wider);
  CHECK_THROWS_MATCHES(nn::copy_parameters(f, wider), ShapeError,
                       what(Equals("copy_parameters: 'layers.0.W' is (3, 5) in MLP but (3, 6) in MLP")));
  CHECK(values_of(wider) == before);
  ResidualTanh<double> other(3, 5, 2, rng);
  CHECK_THROWS_MATCHES(nn::copy_parameters(f, other), ValueError,
                       what(StartsWith("copy_parameters: 'layers.0.W' of MLP has no counterpart in ResidualTanh")));
  // Dropout takes an index: the output layer is layers.2 there, layers.1 here.
  nn::MLP<double> with_dropout({3, 5, 2}, rng, nn::MLPOptions{.dropout = {0.5}});
  CHECK_THROWS_MATCHES(nn::copy_parameters(f, with_dropout), ValueError,
                       what(Equals("copy_parameters: 'layers.1.W' of MLP has no counterpart in MLP")));
  // A name only the destination has.
  const ResidualTanh<float> user(3, 5, 2, rng);
  Bag<double> bigger;
  bigger.register_parameter("extra", ones<double>({1}, true));
  bigger.register_module("in", nn::Linear<double>(3, 5, rng));
  bigger.register_module("mid", nn::Linear<double>(5, 5, rng));
  bigger.register_module("out", nn::Linear<double>(5, 2, rng));
  const auto kept = values_of(bigger);
  CHECK_THROWS_MATCHES(nn::copy_parameters(user, bigger), ValueError,
                       what(Equals("copy_parameters: 'extra' of Bag has no counterpart in ResidualTanh")));
  CHECK(values_of(bigger) == kept);
}

TEST_CASE("The float64 twin of a user-written residual tanh net passes gradcheck", "[module][twin][gradcheck]") {
  Rng rng(11);
  const ResidualTanh<float> model(5, 6, 3, rng);
  ResidualTanh<double> twin(5, 6, 3, rng);  // other weights until copied
  nn::copy_parameters(model, twin);
  nn::name_parameters(twin);
  const Tensor64 x(randn<double>({4, 5}, rng).value());
  const std::vector<std::int32_t> y{2, 0, 1, 2};
  // The twin computes the same function as the float model.
  xt::xarray<float> xf = xt::cast<float>(x.value());
  const Tensor sf = model(Tensor(xf));
  const Tensor64 sd = twin(x);
  for (std::size_t i = 0; i < sd.size(); ++i) CHECK(sf.data()[i] == Approx(sd.data()[i]).margin(1e-5));

  const auto loss = [&](const std::vector<Tensor64>&) { return softmax_cross_entropy(twin(x), y); };
  const GradcheckReport report = gradcheck(loss, twin.parameters());
  INFO(report.message());
  CHECK(report.ok);
  CHECK(report.checked == 5 * 6 + 6 + 6 * 6 + 6 + 6 * 3 + 3);
  CHECK(report.max_rel_error() < 1e-6);
  REQUIRE(report.worst.size() == 6);
  CHECK(report.worst[0].name == "in.W");
  CHECK(report.worst[3].name == "mid.b");
}

// ---- describe() and forward() -------------------------------------------------------------------

TEST_CASE("describe() gives the architecture as text", "[module][describe]") {
  Rng rng(12);
  CHECK(nn::Linear<float>(784, 100, rng, nn::Init::he(), Activation::relu).describe() == "Linear(784, 100, relu)");
  CHECK(nn::Linear<double>(3, 4, rng).describe() == "Linear(3, 4)");
  CHECK(nn::Dropout<float>(0.25, rng).describe() == "Dropout(0.25)");
  CHECK(nn::GELU<float>().describe() == "GELU()");
  CHECK(nn::activation<float>("sigmoid").describe() == "Sigmoid()");
  nn::Sequential<float> seq;
  seq.add(nn::Linear<float>(2, 3, rng));
  seq.add(nn::Tanh<float>());
  CHECK(seq.describe() == "Sequential(0: Linear(2, 3), 1: Tanh())");
  CHECK(nn::Residual<float>(nn::Linear<float>(3, 3, rng, nn::Init::he(), Activation::relu)).describe() ==
        "Residual(fn: Linear(3, 3, relu))");
  CHECK(nn::MLP<float>({2, 8, 3}, rng, nn::MLPOptions{.dropout = {0.5}}).describe() ==
        "MLP(layers: Sequential(0: Linear(2, 8, relu), 1: Dropout(0.5), 2: Linear(8, 3)))");
  CHECK(nn::MLP<float>({2, 4, 4, 3}, rng, nn::MLPOptions{.activation = "tanh", .residual = true}).describe() ==
        "MLP(layers: Sequential(0: Sequential(0: Linear(2, 4), 1: Tanh()), "
        "1: Residual(fn: Sequential(0: Linear(4, 4), 1: Tanh())), 2: Linear(4, 3)))");
  CHECK(nn::LinearClassifier<float>(4, 3, rng).describe() == "LinearClassifier(layers: Sequential(0: Linear(4, 3)))");
  CHECK(ResidualTanh<float>(5, 6, 3, rng).describe() ==
        "ResidualTanh(in: Linear(5, 6), mid: Linear(6, 6), out: Linear(6, 3))");
  Bag<float> bag;
  bag.register_parameter("scale", ones<float>({2, 3}, true));
  bag.register_module("enc", nn::Linear<float>(3, 1, rng));
  CHECK(bag.describe() == "Bag(scale: (2, 3), enc: Linear(3, 1))");
}

TEST_CASE("A module without forward() throws naming its type; an unknown activation names the known ones",
          "[module]") {
  Rng rng(13);
  Bag<float> bag;
  CHECK_THROWS_MATCHES(bag(input(2, 2, rng)), Error, what(StartsWith("Bag: forward(x) is not defined")));
  nn::Sequential<float> seq;
  seq.add(bag);
  CHECK_THROWS_MATCHES(seq(input(2, 2, rng)), Error, what(StartsWith("Bag: forward(x) is not defined")));
  CHECK_THROWS_MATCHES(nn::activation<float>("swish"), ValueError,
                       what(Equals("activation: unknown name 'swish' (relu, tanh, sigmoid, gelu)")));
  // A residual block must keep the shape.
  CHECK_THROWS_MATCHES(nn::Residual<float>(nn::Linear<float>(3, 2, rng))(input(4, 3, rng)), ShapeError,
                       what(Contains("(4, 3) to (4, 2)")));
}
