// Lecture section 2, loss functions, on the lecture's worked example: three
// images (cat, car, frog), three classes, a table of scores. For each image it
// prints the softmax probabilities, the cross-entropy loss L_i = -log p(y_i)
// and the multiclass SVM loss L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1),
// then the data loss L = 1/N sum_i L_i, and the full loss data + lambda * R(W)
// for a few lambdas. Every number comes from slope's ops (softmax,
// log_softmax, softmax_cross_entropy, svm_loss, l2) and is checked against
// the formula written out by hand; the program fails if they disagree.
// Last, the sanity check that small weights give a softmax loss of ln(C),
// and a picture of both losses against the correct class's score margin.
//
//   build/examples/example_losses [--out DIR]
//
// Writes DIR/loss-softmax-vs-svm.svg (DIR defaults to the current directory).
// Exit status: 0 done, 1 a check failed, 2 a wrong command line.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/loss.hpp"
#include "slope/ops.hpp"
#include "slope/plot.hpp"

using namespace slope;

namespace {

const std::vector<std::string> kClasses = {"cat", "car", "frog"};

// Row i of a (N, C) tensor as a new (1, C) leaf.
Tensor64 row(const Tensor64& s, std::size_t i) {
  const std::size_t c = s.shape()[1];
  xt::xarray<double> r = xt::xarray<double>::from_shape({1, c});
  std::copy_n(s.data() + i * c, c, r.data());
  return Tensor64(r);
}

// The formulas written out, for the checks.
double softmax_by_hand(const double* s, std::size_t c, std::size_t y) {
  double z = 0.0;
  for (std::size_t j = 0; j < c; ++j) z += std::exp(s[j]);  // sum_j e^{s_j}
  return -std::log(std::exp(s[y]) / z);                      // -log(e^{s_y} / sum_j e^{s_j})
}
double svm_by_hand(const double* s, std::size_t c, std::size_t y) {
  double l = 0.0;
  for (std::size_t j = 0; j < c; ++j)
    if (j != y) l += std::max(0.0, s[j] - s[y] + 1.0);  // sum_{j != y} max(0, s_j - s_y + 1)
  return l;
}

// Largest disagreement between slope and the hand-written formulas.
double worst = 0.0;
void check(double by_slope, double by_hand) { worst = std::max(worst, std::abs(by_slope - by_hand)); }

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out = ".";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc && std::filesystem::is_directory(argv[i + 1])) {
      out = argv[++i];
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("usage: example_losses [--out DIR]   (DIR: an existing directory, default .)\n");
      return 0;
    } else {
      fmt::print(stderr, "example_losses: bad argument '{}' (--out needs an existing directory); "
                 "usage: example_losses [--out DIR]\n", argv[i]);
      return 2;
    }
  }

  // ---- the worked example: one row of scores per image (rows are examples) ----
  const Tensor64 scores = {{3.2, 5.1, -1.7},   // a cat image
                           {1.3, 4.9, 2.0},    // a car image
                           {2.2, 2.5, -3.1}};  // a frog image
  const std::vector<std::int32_t> labels = {0, 1, 2};
  const std::size_t n = 3, c = 3;
  fmt::print("scores s = f(x_i, W), one row per image, one column per class\n");
  fmt::print("  image  {:>7}{:>7}{:>7}\n", kClasses[0], kClasses[1], kClasses[2]);
  for (std::size_t i = 0; i < n; ++i)
    fmt::print("  {:<5}  {:7.1f}{:7.1f}{:7.1f}\n", kClasses[i], scores.value()(i, 0),
               scores.value()(i, 1), scores.value()(i, 2));

  // ---- softmax: exponentiate, normalise, L_i = -log p(y_i) ----
  const Tensor64 probs = softmax(scores);
  const Tensor64 softmax_li = -gather(log_softmax(scores), labels);  // (N,)
  fmt::print("\nsoftmax (cross-entropy) loss, L_i = -log p(y_i), natural log\n");
  for (std::size_t i = 0; i < n; ++i) {
    const double* s = scores.data() + i * c;
    fmt::print("  {:<5} exp(s) = {:7.2f} {:7.2f} {:7.2f}   p = {:.4f} {:.4f} {:.4f}   "
               "p(correct) = {:.4f}  L_i = {:.4f}\n",
               kClasses[i], std::exp(s[0]), std::exp(s[1]), std::exp(s[2]), probs.value()(i, 0),
               probs.value()(i, 1), probs.value()(i, 2), probs.value()(i, labels[i]),
               softmax_li.value()(i));
    check(softmax_li.value()(i), softmax_by_hand(s, c, labels[i]));
    check(softmax_cross_entropy(row(scores, i), std::vector<std::int32_t>{labels[i]}).item(),
          softmax_by_hand(s, c, labels[i]));
  }
  const double softmax_data = softmax_cross_entropy(scores, labels).item();
  fmt::print("  softmax data loss L = 1/N sum_i L_i = {:.4f}\n", softmax_data);
  check(softmax_data, sum(softmax_li).item() / n);

  // ---- multiclass SVM: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1) ----
  fmt::print("\nmulticlass SVM (hinge) loss, margin 1\n");
  double svm_sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* s = scores.data() + i * c;
    const double li = svm_loss(row(scores, i), std::vector<std::int32_t>{labels[i]}).item();
    std::string terms;
    for (std::size_t j = 0; j < c; ++j)
      if (j != static_cast<std::size_t>(labels[i]))
        terms += fmt::format("{}max(0, {:.1f} - {} + 1)", terms.empty() ? "" : " + ", s[j],
                             s[labels[i]] < 0 ? fmt::format("({:.1f})", s[labels[i]])
                                              : fmt::format("{:.1f}", s[labels[i]]));
    fmt::print("  {:<5} L_i = {} = {:.4f}\n", kClasses[i], terms, li);
    check(li, svm_by_hand(s, c, labels[i]));
    svm_sum += li;
  }
  const double svm_data = svm_loss(scores, labels).item();
  fmt::print("  SVM data loss L = 1/N sum_i L_i = {:.4f}\n", svm_data);
  check(svm_data, svm_sum / n);

  // ---- full loss = data loss + lambda * R(W) ----
  // The scores need a W: take each image as a one-hot vector of 3 pixels
  // (X = I), so S = X W gives W = S and R(W) = sum W^2 over the table above.
  const Tensor64 W = scores.detach();
  const Tensor64 S = matmul(Tensor64({{1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}}), W);
  const double r = l2(W).item();
  double r_hand = 0.0;
  for (double w : W.value()) r_hand += w * w;
  check(r, r_hand);
  fmt::print("\nfull loss L = data loss + lambda * R(W), R(W) = sum W^2 = {:.4f}\n", r);
  fmt::print("  {:>8}  {:>14}  {:>14}\n", "lambda", "softmax L", "SVM L");
  for (double lambda : {0.0, 1e-3, 1e-2, 1e-1}) {
    const double full_softmax = (softmax_cross_entropy(S, labels) + lambda * l2(W)).item();
    const double full_svm = (svm_loss(S, labels) + lambda * l2(W)).item();
    fmt::print("  {:>8g}  {:14.4f}  {:14.4f}\n", lambda, full_softmax, full_svm);
    check(full_softmax, softmax_data + lambda * r_hand);
    check(full_svm, svm_data + lambda * r_hand);
  }

  // ---- sanity check: small weights give every class about the same score ----
  // Then p = 1/C for every class and L = -log(1/C) = ln(C); the SVM loss is
  // about C - 1 (every wrong class is within the margin by 1).
  {
    Rng rng(0);
    const std::size_t examples = 500, dim = 784, classes = 10;
    const Tensor64 x = uniform<double>({examples, dim}, 0.0, 1.0, rng);  // "pixels" in [0, 1)
    const Tensor64 w = randn<double>({dim, classes}, rng, 1e-4);        // W ~ N(0, 1e-4^2)
    std::vector<std::int32_t> y(examples);
    for (auto& label : y) label = static_cast<std::int32_t>(rng.below(classes));
    const Tensor64 s = matmul(x, w);
    fmt::print("\nsanity check: {} examples, {} classes, W ~ N(0, 1e-4^2)\n", examples, classes);
    fmt::print("  initial softmax loss {:.4f}  (ln(C) = {:.4f})\n",
               softmax_cross_entropy(s, y).item(), std::log(double(classes)));
    fmt::print("  initial SVM loss {:.4f}  (C - 1 = {})\n", svm_loss(s, y).item(), classes - 1);
  }

  // ---- both losses against the margin m = s_y - s_other (two classes) ----
  const std::size_t points = 161;
  xt::xarray<double> pair = xt::xarray<double>::from_shape({points, 2});
  std::vector<double> margin(points), soft(points), hinge(points);
  for (std::size_t i = 0; i < points; ++i) {
    margin[i] = -4.0 + 8.0 * double(i) / double(points - 1);
    pair(i, 0) = 0.0;        // the other class
    pair(i, 1) = margin[i];  // the correct class
  }
  const Tensor64 pairs(pair);
  const std::vector<std::int32_t> ones(points, 1);
  const Tensor64 soft_li = -gather(log_softmax(pairs), ones);
  for (std::size_t i = 0; i < points; ++i) {
    soft[i] = soft_li.value()(i);
    hinge[i] = svm_loss(row(pairs, i), std::vector<std::int32_t>{1}).item();
    check(soft[i], std::log1p(std::exp(-margin[i])));        // log(1 + e^{-m})
    check(hinge[i], std::max(0.0, 1.0 - margin[i]));         // max(0, 1 - m)
  }
  fmt::print("\ntwo classes, margin m = s_correct - s_other\n");
  fmt::print("  {:>6}  {:>10}  {:>10}\n", "m", "softmax", "SVM");
  for (double m : {-2.0, 0.0, 1.0, 2.0, 4.0}) {
    const auto i = static_cast<std::size_t>(std::lround((m + 4.0) / 8.0 * double(points - 1)));
    fmt::print("  {:6.1f}  {:10.4f}  {:10.4f}\n", margin[i], soft[i], hinge[i]);
  }
  plot::Figure fig("Loss of one example against its margin (two classes)");
  fig.xlabel("margin m = s_correct - s_other").ylabel("loss L_i");
  fig.line(margin, soft, "softmax: log(1 + exp(-m))");
  fig.line(margin, hinge, "SVM: max(0, 1 - m)");
  fig.vline(1.0, "m = 1: SVM satisfied", {.color = "grey", .width = 1.0, .dashed = true});
  const std::filesystem::path picture = out / "loss-softmax-vs-svm.svg";
  fig.save(picture);
  fmt::print("wrote {}\n", picture.string());

  fmt::print("\nlargest |slope - formula by hand| = {:.2e}\n", worst);
  if (!(worst < 1e-12)) {
    fmt::print(stderr, "example_losses: slope's losses disagree with the formulas by {:.3e}\n", worst);
    return 1;
  }
  return 0;
}
