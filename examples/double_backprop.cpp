// Double backpropagation (Drucker and LeCun, 1992): train on
//   L(W) + lambda * mean_i ||d l_i / d x_i||^2,
// the loss plus the squared size of each example's input gradient. The
// penalty is itself a gradient, so its gradient with respect to W is a second
// derivative: the training step differentiates the backward pass
// (grad(..., {.create_graph = true}), then backward() through that graph).
//
// A two-layer net on a Fashion-MNIST subset, trained with Adam at several
// lambda; for each: the training loss, test accuracy, the mean input-gradient
// norm on test images, and what a small worst-case input perturbation (one
// step of eps * sign(d l / d x), the "fast gradient sign" perturbation) does
// to the test loss. -> double-backprop.svg
//
//   build/examples/example_double_backprop [--out DIR] [--quick] [--data-dir DIR]
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/autograd.hpp"
#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"
#include "example_args.hpp"

using namespace slope;

namespace {

using Split = data::Batch<float>;  // x (n, 784) preprocessed, and the n labels

// The loss and the per-example input gradients d l_i / d x_i of a batch: x is
// made a leaf that requires a gradient; since L = mean_i l_i, d l_i / d x_i is
// N times row i of dL/dx. With create_graph the gradients stay differentiable.
struct WithInputGradient {
  Tensor loss, input_grad;
};
WithInputGradient loss_and_input_grad(const nn::MLP<float>& net, const Tensor& x, std::span<const std::int32_t> y,
                                      bool create_graph) {
  const Tensor leaf = x.detach().set_requires_grad();
  const Tensor loss = softmax_cross_entropy(net(leaf), y);
  const Tensor g = grad(loss, {leaf}, {.create_graph = create_graph})[0];
  return {loss, g * static_cast<float>(x.shape()[0])};
}

struct Outcome {
  double lambda, train_loss, test_acc, grad_norm, clean_loss, attacked_loss;
};

Outcome train(const Split& tr, const Split& te, double lambda, int epochs, std::size_t hidden) {
  Rng init(3);
  nn::TwoLayerNet<float> net(784, hidden, 10, init);
  optim::Adam<float> opt(net.parameters(), {.lr = 1e-3});
  data::Minibatches batches(data::all_indices(tr.y.size()), 100, Rng(5));
  for (int e = 0; e < epochs; ++e) {
    if (e > 0) batches.next_epoch();
    while (batches.has_next()) {
      const std::span<const std::size_t> idx = batches.next();
      xt::xarray<float> rows = xt::xarray<float>::from_shape({idx.size(), 784});
      std::vector<std::int32_t> yb;
      for (std::size_t i = 0; i < idx.size(); ++i) {
        std::copy_n(tr.x.data() + idx[i] * 784, 784, rows.data() + i * 784);
        yb.push_back(tr.y[idx[i]]);
      }
      opt.zero_grad();
      if (lambda == 0.0) {
        softmax_cross_entropy(net(Tensor(rows)), yb).backward();
      } else {
        // L + lambda mean_i ||d l_i/dx_i||^2: the penalty's graph goes through the backward pass.
        const WithInputGradient w = loss_and_input_grad(net, Tensor(rows), yb, true);
        const Tensor penalty = sum(square(w.input_grad)) / static_cast<float>(idx.size());
        (w.loss + static_cast<float>(lambda) * penalty).backward();
      }
      opt.step();
    }
  }
  Outcome o{lambda};
  {
    NoGradGuard no_grad;
    o.train_loss = softmax_cross_entropy(net(tr.x), tr.y).item();
    o.test_acc = nn::accuracy(net(te.x).value(), te.y);
  }
  const WithInputGradient w = loss_and_input_grad(net, te.x, te.y, false);
  o.clean_loss = w.loss.item();
  double total = 0.0;
  const std::size_t n = te.y.size();
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (std::size_t j = 0; j < 784; ++j) s += std::pow(w.input_grad.value()(i, j), 2);
    total += std::sqrt(s);
  }
  o.grad_norm = total / static_cast<double>(n);
  // One fast-gradient-sign step of size eps per pixel (preprocessed units).
  const float eps = 0.05f;
  xt::xarray<float> moved = te.x.value();
  for (std::size_t k = 0; k < moved.size(); ++k)
    moved.data()[k] += eps * (w.input_grad.value().data()[k] > 0.f ? 1.f : w.input_grad.value().data()[k] < 0.f ? -1.f : 0.f);
  NoGradGuard no_grad;
  o.attacked_loss = softmax_cross_entropy(net(Tensor(moved)), te.y).item();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = examples::figure_args(argc, argv);
  if (!args) return 2;
  const bool quick = args->quick;
  const std::filesystem::path out = args->out;
  const std::filesystem::path dir = args->data_dir;
  if (!examples::have_fashion_mnist(dir, argv[0])) return 1;
  std::filesystem::create_directories(out);
  const data::Dataset train_set = data::fashion_mnist("train", dir), test_set = data::fashion_mnist("test", dir);
  Rng rng(2);
  const std::size_t n_train = quick ? 1000 : 5000, n_test = quick ? 500 : 2000;
  const std::vector<std::size_t> rows = data::train_val_split(train_set.size(), n_train, rng).val;
  const std::vector<std::size_t> test_rows = data::train_val_split(test_set.size(), n_test, rng).val;
  const data::Preprocess prep = data::fit_preprocess(train_set, rows);
  const Split tr = data::batch<float>(train_set, rows, prep), te = data::batch<float>(test_set, test_rows, prep);
  const int epochs = quick ? 6 : 10;
  const std::size_t hidden = 64;
  fmt::print("double backpropagation: L + lambda mean_i ||d l_i/d x_i||^2, two-layer net 784-{}-10, Adam lr 1e-3, "
             "{} training images, {} epochs of minibatches of 100, {} test images\n", hidden, n_train, epochs, n_test);
  fmt::print("  {:>7}  {:>10}  {:>8}  {:>20}  {:>9}  {:>21}\n", "lambda", "train loss", "test acc",
             "mean ||d l_i/d x_i||", "test loss", "after eps 0.05 x sign");
  std::vector<double> lambdas = quick ? std::vector<double>{0.0, 1.0} : std::vector<double>{0.0, 0.01, 0.1, 1.0};
  std::vector<Outcome> outcomes;
  for (double lambda : lambdas) {
    const Outcome o = train(tr, te, lambda, epochs, hidden);
    outcomes.push_back(o);
    fmt::print("  {:>7g}  {:>10.4f}  {:>7.1f}%  {:>20.4f}  {:>9.4f}  {:>21.4f}\n", o.lambda, o.train_loss,
               100 * o.test_acc, o.grad_norm, o.clean_loss, o.attacked_loss);
  }
  plot::Figure fig("double backpropagation: input-gradient size and the loss after a perturbation");
  fig.xlabel("lambda (0 drawn at 1e-3)").ylabel("test images").log_x();
  std::vector<double> xs, norms, attacked;
  for (const Outcome& o : outcomes) {
    xs.push_back(o.lambda == 0.0 ? 1e-3 : o.lambda);
    norms.push_back(o.grad_norm);
    attacked.push_back(o.attacked_loss - o.clean_loss);
  }
  fig.line(xs, norms, "mean ||d l_i / d x_i||", {.markers = true});
  fig.line(xs, attacked, "test loss increase after eps 0.05 sign(d l/d x)", {.dashed = true, .markers = true});
  fig.save(out / "double-backprop.svg");
  return 0;
}
