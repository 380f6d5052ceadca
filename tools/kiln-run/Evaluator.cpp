//===- Evaluator.cpp - reference interpreter of the nn dialect --*- C++ -*-===//
//
// Part of kiln. Implements evaluate() (Evaluator.h): converts the arguments
// to the chosen scalar type, walks the function's ops in order (constants
// and elementwise ops here, the rest in StructuredOps.cpp), checks every
// result against its static type, and converts the results back. Integer
// values (class indices, seeds) are i64 in both precisions.
//
//===----------------------------------------------------------------------===//

#include "tools/kiln-run/Interpreter.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace kiln::nn;
using namespace kiln::eval::kernels;
using kiln::eval::BasicTensor;

using namespace kiln::eval::detail;

template <typename T> LogicalResult Interpreter<T>::constant(ConstantOp op) {
  auto attr = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!attr)
    return op.emitOpError("only dense constants can be evaluated");
  Shape shape(attr.getType().getShape());
  if (attr.getElementType().isInteger(64)) {
    auto values = attr.getValues<int64_t>();
    set(op.getResult(),
        Tensor::integers(shape,
                         std::vector<int64_t>(values.begin(), values.end())));
    return success();
  }
  std::vector<T> values;
  for (float v : attr.getValues<float>())
    values.push_back(T(v));
  set(op.getResult(), Tensor::floats(shape, std::move(values)));
  return success();
}

/// Unary and broadcasting binary ops and the elementwise gradient masks;
/// `handled` is false for any other op.
template <typename T>
LogicalResult Interpreter<T>::elementwise(Operation *op, bool &handled) {
  handled = true;
  auto unary = [&](auto f) {
    set(op->getResult(0), map(get(op->getOperand(0)), f));
    return success();
  };
  auto binary = [&](auto f) -> LogicalResult {
    const Tensor &a = get(op->getOperand(0)), &b = get(op->getOperand(1));
    if (!broadcastShapes(a.shape, b.shape))
      return op->emitOpError("operand shapes ")
             << shapeString(a.shape) << " and " << shapeString(b.shape)
             << " do not broadcast at run time";
    set(op->getResult(0), zip(a, b, f));
    return success();
  };
  // (grad, input) ops: same shapes, f(g, x).
  auto gradMask = [&](auto f) -> LogicalResult {
    if (failed(sameShape(op, op->getOperand(0), op->getOperand(1))))
      return failure();
    return binary(f);
  };
  const T kSqrt2 = std::sqrt(T(2)), kSqrt2OverPi = std::sqrt(T(2) / T(M_PI));
  const T kInvSqrt2Pi = T(1) / std::sqrt(T(2) * T(M_PI)), kGeluCubic = 0.044715;
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](NegOp) { return unary([](T x) { return -x; }); })
      .Case([&](ExpOp) { return unary([](T x) { return std::exp(x); }); })
      .Case([&](LogOp) { return unary([](T x) { return std::log(x); }); })
      .Case([&](SqrtOp) { return unary([](T x) { return std::sqrt(x); }); })
      .Case([&](AbsOp) { return unary([](T x) { return std::fabs(x); }); })
      .Case([&](CosOp) { return unary([](T x) { return std::cos(x); }); })
      .Case([&](FloorOp) { return unary([](T x) { return std::floor(x); }); })
      .Case([&](SignOp) {
        return unary([](T x) { return T((x > 0) - (x < 0)); });
      })
      // As torch.relu (threshold at 0): a NaN passes through.
      .Case(
          [&](ReluOp) { return unary([](T x) { return x <= 0 ? T(0) : x; }); })
      .Case([&](SigmoidOp) {
        return unary([](T x) { return T(1) / (T(1) + std::exp(-x)); });
      })
      .Case([&](TanhOp) { return unary([](T x) { return std::tanh(x); }); })
      .Case([&](LeakyReluOp o) {
        T alpha = T(o.getAlpha().convertToDouble());
        return unary([alpha](T x) { return x > 0 ? x : alpha * x; });
      })
      .Case([&](GeluOp o) {
        if (o.getApproximate() == "tanh")
          return unary([&](T x) {
            T u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
            return T(0.5) * x * (T(1) + std::tanh(u));
          });
        return unary(
            [&](T x) { return T(0.5) * x * (T(1) + std::erf(x / kSqrt2)); });
      })
      .Case([&](AddOp) { return binary([](T a, T b) { return a + b; }); })
      .Case([&](SubOp) { return binary([](T a, T b) { return a - b; }); })
      .Case([&](MulOp) { return binary([](T a, T b) { return a * b; }); })
      .Case([&](DivOp) { return binary([](T a, T b) { return a / b; }); })
      .Case([&](PowOp) {
        return binary([](T a, T b) { return std::pow(a, b); });
      })
      // A NaN operand gives NaN, as torch.maximum and torch.minimum.
      .Case([&](MaximumOp) {
        return binary([](T a, T b) { return std::isnan(a) || a > b ? a : b; });
      })
      .Case([&](MinimumOp) {
        return binary([](T a, T b) { return std::isnan(a) || a < b ? a : b; });
      })
      .Case([&](GreaterOp) {
        return binary([](T a, T b) { return a > b ? T(1) : T(0); });
      })
      .Case([&](ReluGradOp) {
        return gradMask([](T g, T x) { return x > 0 ? g : T(0); });
      })
      .Case([&](LeakyReluGradOp o) {
        T alpha = T(o.getAlpha().convertToDouble());
        return gradMask([alpha](T g, T x) { return x > 0 ? g : alpha * g; });
      })
      .Case([&](GeluGradOp o) {
        if (o.getApproximate() == "tanh")
          // d/dx 0.5 x (1 + tanh u), u = k (x + c x^3)
          return gradMask([&](T g, T x) {
            T t = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
            T du = kSqrt2OverPi * (T(1) + T(3) * kGeluCubic * x * x);
            return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
          });
        // d/dx x Phi(x) = Phi(x) + x phi(x)
        return gradMask([&](T g, T x) {
          T cdf = T(0.5) * (T(1) + std::erf(x / kSqrt2));
          return g * (cdf + x * kInvSqrt2Pi * std::exp(T(-0.5) * x * x));
        });
      })
      .Default([&](Operation *) {
        handled = false;
        return success();
      });
}

template <typename T> LogicalResult Interpreter<T>::step(Operation *op) {
  if (auto c = dyn_cast<ConstantOp>(op))
    return constant(c);
  bool handled;
  if (failed(elementwise(op, handled)))
    return failure();
  if (!handled && failed(structured(op)))
    return failure();
  for (Value result : op->getResults())
    if (!env.count(result) || !conforms(get(result), result.getType()))
      return op->emitOpError("computed a result of shape ")
             << shapeString(get(result).shape) << " that does not fit its type "
             << result.getType();
  return success();
}

template <typename T>
FailureOr<std::vector<BasicTensor<T>>>
Interpreter<T>::run(func::FuncOp func, std::vector<Tensor> args) {
  if (func.isExternal())
    return func.emitError("cannot evaluate the external function @")
           << func.getSymName();
  Block &body = func.getBody().front();
  if (args.size() != body.getNumArguments())
    return func.emitError("expected ")
           << body.getNumArguments() << " arguments, got " << args.size();
  for (auto [arg, value] : llvm::zip(body.getArguments(), args)) {
    bool sized =
        value.numel() ==
        int64_t(value.isInteger ? value.ints.size() : value.values.size());
    if (!sized || !conforms(value, arg.getType()))
      return func.emitError("argument ")
             << arg.getArgNumber() << " of shape " << shapeString(value.shape)
             << (sized ? "" : " (with the wrong number of elements)")
             << " does not fit its type " << arg.getType();
    set(arg, std::move(value));
  }
  for (Operation &op : body.without_terminator())
    if (failed(step(&op)))
      return failure();
  std::vector<Tensor> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(get(v));
  return results;
}

namespace {

template <typename From, typename To>
BasicTensor<To> convert(const BasicTensor<From> &t) {
  BasicTensor<To> out;
  out.shape = t.shape;
  out.ints = t.ints;
  out.isInteger = t.isInteger;
  out.values.assign(t.values.begin(), t.values.end());
  return out;
}

template <typename T>
FailureOr<std::vector<kiln::eval::Tensor>>
evaluateIn(func::FuncOp func, ArrayRef<kiln::eval::Tensor> args) {
  std::vector<BasicTensor<T>> converted;
  for (const kiln::eval::Tensor &a : args)
    converted.push_back(convert<double, T>(a));
  auto results = Interpreter<T>().run(func, std::move(converted));
  if (failed(results))
    return failure();
  std::vector<kiln::eval::Tensor> out;
  for (const BasicTensor<T> &r : *results)
    out.push_back(convert<T, double>(r));
  return out;
}

} // namespace

FailureOr<std::vector<kiln::eval::Tensor>>
kiln::eval::evaluate(func::FuncOp func, ArrayRef<Tensor> args,
                     Precision precision) {
  if (precision == Precision::F32)
    return evaluateIn<float>(func, args);
  return evaluateIn<double>(func, args);
}
