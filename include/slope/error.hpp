// slope's error types. Every check on user input throws one of these, in every
// build type; messages read "<op>: <what>: <details>".
#pragma once

#include <stdexcept>
#include <string>

namespace slope {

/// Base of every error slope throws on bad input or a failed operation.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Operand shapes that an op cannot accept, e.g.
/// "matmul: inner dimensions differ: a is (64, 784), b is (100, 10)".
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// An argument whose value (not shape) is out of range: a negative learning
/// rate, a label outside [0, classes), a batch size of 0.
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be opened, read, written or parsed; the message names it.
class IoError : public Error {
 public:
  using Error::Error;
};

/// NaN or Inf where finite numbers were required (anomaly mode, training).
class NumericError : public Error {
 public:
  using Error::Error;
};

}  // namespace slope
