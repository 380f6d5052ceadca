//===- LowerOptimizer.cpp - parameter updates as nn ops ---------*- C++ -*-===//
//
// Part of kiln. Implements kiln-lower-optimizer (see Passes.td): turns the
// gradients @train_step returns (results tagged `nn.grad`) into the updated
// parameters and optimizer state, with the optimizer, learning-rate schedule
// and gradient clipping of the module's `nn.train` attribute. The update is
// ordinary nn ops in the same function, so fusion and codegen treat it like
// the rest of the step.
//
// Every formula follows PyTorch's single-tensor implementations (torch.optim
// SGD, Adam, AdamW; torch.nn.utils.clip_grad_norm_; the closed forms of
// StepLR and CosineAnnealingLR), so a step can be compared number for number.
// Afterwards @train_step takes one more argument, the 1-based step number t
// (`nn.step`, f32), plus one argument per optimizer state tensor
// (`nn.opt_state = "<param>.<state>"`, PyTorch's state names), and returns
// each updated parameter (`nn.param`) and state tensor in place of the
// gradients.
//
// Order: state arguments are grouped by kind (every exp_avg, then every
// exp_avg_sq), and the state results follow the order of the state
// arguments, so each kind's tensors lie back to back in the trainer's state
// arena (runtime/Model.h) and kiln-fuse can update all of them with one
// kernel over their concatenation.
//
//===----------------------------------------------------------------------===//

#include "ir/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cmath>

#define DEBUG_TYPE "kiln-lower-optimizer"

namespace kiln {
#define GEN_PASS_DEF_LOWEROPTIMIZER
#include "passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln::nn;

namespace {

/// Builds scalar and elementwise math at one insertion point and location.
class Math {
public:
  Math(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  Value c(double value) {
    auto type = RankedTensorType::get({}, b.getF32Type());
    return b.create<ConstantOp>(loc, DenseElementsAttr::get(type, float(value)));
  }
  template <typename Op> Value bin(Value x, Value y) {
    FailureOr<Op> op = createInferred<Op>(b, loc, x, y);
    assert(succeeded(op) && "optimizer operands broadcast by construction");
    return (*op)->getResult(0);
  }
  Value add(Value x, Value y) { return bin<AddOp>(x, y); }
  Value sub(Value x, Value y) { return bin<SubOp>(x, y); }
  Value mul(Value x, Value y) { return bin<MulOp>(x, y); }
  Value div(Value x, Value y) { return bin<DivOp>(x, y); }
  Value pow(Value x, Value y) { return bin<PowOp>(x, y); }
  Value min(Value x, Value y) { return bin<MinimumOp>(x, y); }
  Value maximum(Value x, Value y) { return bin<MaximumOp>(x, y); }
  Value sqrt(Value x) { return b.create<SqrtOp>(loc, x); }
  Value cos(Value x) { return b.create<CosOp>(loc, x); }
  Value floor(Value x) { return b.create<FloorOp>(loc, x); }
  Value exp(Value x) { return b.create<ExpOp>(loc, x); }
  /// 1 where x > y, else 0.
  Value greater(Value x, Value y) { return bin<GreaterOp>(x, y); }
  Value sumAll(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> axes;
    for (int64_t i = 0; i < type.getRank(); ++i)
      axes.push_back(i);
    if (axes.empty())
      return x;
    return b.create<ReduceSumOp>(loc, RankedTensorType::get({}, b.getF32Type()),
                                 x, axes, false);
  }

private:
  OpBuilder &b;
  Location loc;
};

/// A number the front end wrote as a float or, from an integer literal
/// (`betas=[0, 0.5]`), as an integer.
double asF64(Attribute a, double fallback) {
  if (auto f = dyn_cast_or_null<FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(a))
    return double(i.getInt());
  return fallback;
}

double getF64(DictionaryAttr dict, StringRef key, double fallback) {
  return asF64(dict.get(key), fallback);
}

/// The learning rate under `schedule` after `s` completed steps (s = t - 1
/// for the 1-based step number t).
Value scheduledLr(Math &m, DictionaryAttr schedule, double lr, Value s) {
  StringRef kind =
      schedule ? schedule.getAs<StringAttr>("kind").getValue() : "constant";
  if (kind == "step") {
    // StepLR: lr * gamma^floor(s / every)
    double every = getF64(schedule, "every", 1), gamma = getF64(schedule, "gamma", 0.1);
    return m.mul(m.c(lr), m.pow(m.c(gamma), m.floor(m.div(s, m.c(every)))));
  }
  if (kind == "cosine") {
    // CosineAnnealingLR's closed form:
    // min + (lr - min) (1 + cos(pi s / t_max)) / 2
    double tmax = getF64(schedule, "t_max", 1), low = getF64(schedule, "min_lr", 0);
    Value phase = m.cos(m.mul(s, m.c(M_PI / tmax)));
    return m.add(m.c(low),
                 m.mul(m.c((lr - low) / 2), m.add(m.c(1.0), phase)));
  }
  if (kind == "warmup") {
    // Linear from lr/steps at the first step to lr at step `steps`, then the
    // `then` schedule counted from the end of the warm-up.
    double steps = getF64(schedule, "steps", 1);
    Value ramp = m.min(m.c(1.0), m.div(m.add(s, m.c(1.0)), m.c(steps)));
    Value after = m.sub(s, m.c(steps));
    Value zero = m.c(0.0);
    Value later = scheduledLr(m, schedule.getAs<DictionaryAttr>("then"), lr,
                              m.bin<MaximumOp>(after, zero));
    // warm = s < steps as a 0/1 mask: lr_t = warm * lr * ramp + (1-warm) * later
    Value warm = m.bin<GreaterOp>(m.c(steps), s);
    return m.add(m.mul(warm, m.mul(m.c(lr), ramp)),
                 m.mul(m.sub(m.c(1.0), warm), later));
  }
  return m.c(lr);
}

/// 1 - b^t (an Adam bias correction) for 0 <= b < 1 and t >= 1, to f32
/// precision, as PyTorch computes it in double. With x = t ln b (ln b taken
/// in double), 1 - e^x loses digits to cancellation when e^x is near 1
/// (b = 0.999, t = 1: 1.3e-5 relative), so for x in (-0.1, 0] it is
/// -expm1(x), from expm1's Taylor series in Horner form (six terms leave
/// 2e-11). Below, e^x < 0.905 and 1 - e^x is within 6e-7 (down to 1 once
/// b^t underflows). b = 0 gives 1 (ln 0 is -inf). About 25 scalar ops,
/// once per step.
Value oneMinusPower(Math &m, double b, Value t) {
  if (b == 0)
    return m.c(1.0);
  Value x = m.mul(t, m.c(std::log(b)));
  Value u = m.exp(x);
  // The series on x clamped into its range, so that it stays finite where
  // it is not used.
  Value near = m.maximum(x, m.c(-0.1));
  Value series = m.c(1.0);
  for (int k = 6; k >= 2; --k)
    series = m.add(m.c(1.0), m.mul(m.mul(near, m.c(1.0 / k)), series));
  Value expm1 = m.mul(near, series);
  Value nearOne = m.greater(x, m.c(-0.1));
  return m.add(m.mul(nearOne, m.sub(m.c(0.0), expm1)),
               m.mul(m.sub(m.c(1.0), nearOne), m.sub(m.c(1.0), u)));
}

struct LowerOptimizer : kiln::impl::LowerOptimizerBase<LowerOptimizer> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step) {
      module.emitError("kiln-lower-optimizer needs @train_step (run "
                       "kiln-autodiff first)");
      return signalPassFailure();
    }
    auto train = module->getAttrOfType<DictionaryAttr>(NNDialect::kTrainAttr);
    DictionaryAttr optimizer =
        train ? train.getAs<DictionaryAttr>("optimizer") : DictionaryAttr();
    if (!optimizer) {
      module.emitError("no optimizer: the model needs a train block with "
                       "`optimizer = ...`");
      return signalPassFailure();
    }
    if (failed(lower(step, train, optimizer)))
      signalPassFailure();
  }

  LogicalResult lower(func::FuncOp step, DictionaryAttr train,
                      DictionaryAttr optimizer);
};

LogicalResult LowerOptimizer::lower(func::FuncOp step, DictionaryAttr train,
                                    DictionaryAttr optimizer) {
  MLIRContext *context = step.getContext();
  Block &body = step.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  StringRef kind = optimizer.getAs<StringAttr>("kind").getValue();
  if (kind != "sgd" && kind != "adam" && kind != "adamw")
    return step.emitError("unknown optimizer '") << kind << "'";

  // Parameters by checkpoint name.
  llvm::StringMap<BlockArgument> paramArgs;
  for (BlockArgument arg : body.getArguments())
    if (auto name = step.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      NNDialect::kParamAttr))
      paramArgs[name.getValue()] = arg;

  OpBuilder builder(ret);
  Location loc = step.getLoc();
  Math m(builder, loc);
  auto scalarType = RankedTensorType::get({}, builder.getF32Type());
  // New arguments are appended: first the step number, then state tensors.
  SmallVector<Type> argTypes(body.getArgumentTypes());
  SmallVector<DictionaryAttr> argAttrs;
  for (unsigned i = 0; i < body.getNumArguments(); ++i)
    argAttrs.push_back(step.getArgAttrDict(i));
  auto appendArg = [&](Type type, NamedAttribute attr) {
    argTypes.push_back(type);
    argAttrs.push_back(DictionaryAttr::get(context, {attr}));
    return body.addArgument(type, loc);
  };
  Value t = appendArg(scalarType, builder.getNamedAttr(NNDialect::kStepAttr,
                                                       builder.getUnitAttr()));

  // Gradients and the results that stay: outputs first, then the new
  // value of each state argument in argument order (stateResults).
  SmallVector<std::pair<BlockArgument, Value>> updates;
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  DenseMap<BlockArgument, std::pair<Value, DictionaryAttr>> stateResults;
  for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
    auto name = step.getResultAttrOfType<StringAttr>(i, NNDialect::kGradAttr);
    if (!name) {
      // A buffer's new value (batch-norm statistics) is state too.
      auto buffer =
          step.getResultAttrOfType<StringAttr>(i, NNDialect::kBufferAttr);
      BlockArgument arg;
      for (BlockArgument a : body.getArguments())
        if (buffer && argAttrs[a.getArgNumber()] &&
            argAttrs[a.getArgNumber()].get(NNDialect::kBufferAttr) == buffer)
          arg = a;
      if (arg) {
        stateResults[arg] = {ret.getOperand(i), step.getResultAttrDict(i)};
        continue;
      }
      results.push_back(ret.getOperand(i));
      resultAttrs.push_back(step.getResultAttrDict(i));
      continue;
    }
    auto it = paramArgs.find(name.getValue());
    if (it == paramArgs.end())
      return step.emitError("gradient of unknown parameter '")
             << name.getValue() << "'";
    updates.emplace_back(it->second, ret.getOperand(i));
  }
  llvm::sort(updates, [](auto &a, auto &b) {
    return a.first.getArgNumber() < b.first.getArgNumber();
  });

  // clip_grad_norm_: scale all gradients by min(1, max / (||g||_2 + 1e-6)).
  if (train.get("clip_grad_norm") && !updates.empty()) {
    double maxNorm = getF64(train, "clip_grad_norm", 1.0);
    Value total = m.c(0.0);
    for (auto &[param, g] : updates)
      total = m.add(total, m.sumAll(m.mul(g, g)));
    Value coef = m.min(m.c(1.0), m.div(m.c(maxNorm),
                                       m.add(m.sqrt(total), m.c(1e-6))));
    for (auto &[param, g] : updates)
      g = m.mul(g, coef);
  }

  double lr0 = getF64(optimizer, "lr", 1e-3);
  Value s = m.sub(t, m.c(1.0)); // completed steps before this one
  Value lr = scheduledLr(m, train.getAs<DictionaryAttr>("schedule"), lr0, s);
  double wd = getF64(optimizer, "weight_decay", 0);

  auto addResult = [&](BlockArgument arg, Value v, StringRef attrName,
                       StringRef name) {
    stateResults[arg] = {
        v, DictionaryAttr::get(context, {builder.getNamedAttr(
                                            attrName,
                                            builder.getStringAttr(name))})};
  };
  auto stateArg = [&](BlockArgument param, StringRef state) {
    std::string name =
        (step.getArgAttrOfType<StringAttr>(param.getArgNumber(),
                                           NNDialect::kParamAttr)
             .getValue() +
         "." + state)
            .str();
    Value arg = appendArg(param.getType(),
                          builder.getNamedAttr(NNDialect::kOptStateAttr,
                                               builder.getStringAttr(name)));
    return std::make_pair(arg, name);
  };
  // Adam's two state tensors per parameter, grouped by kind.
  SmallVector<std::pair<Value, std::string>> expAvg, expAvgSq;
  if (kind != "sgd") {
    for (auto &update : updates)
      expAvg.push_back(stateArg(update.first, "exp_avg"));
    for (auto &update : updates)
      expAvgSq.push_back(stateArg(update.first, "exp_avg_sq"));
  }

  for (auto [index, update] : llvm::enumerate(updates)) {
    auto [param, grad] = update;
    StringRef name = step.getArgAttrOfType<StringAttr>(param.getArgNumber(),
                                                       NNDialect::kParamAttr)
                         .getValue();
    Value p = param, g = grad;
    if (kind == "sgd") {
      // d = g + wd p; buf = momentum buf + (1 - dampening) d (buf = d at the
      // first step); d = nesterov ? d + momentum buf : buf; p -= lr d
      if (wd != 0)
        g = m.add(g, m.mul(m.c(wd), p));
      double momentum = getF64(optimizer, "momentum", 0);
      double dampening = getF64(optimizer, "dampening", 0);
      bool nesterov = false;
      if (auto n = optimizer.getAs<BoolAttr>("nesterov"))
        nesterov = n.getValue();
      if (momentum != 0) {
        auto [buf, bufName] = stateArg(param, "momentum_buffer");
        Value next = m.add(m.mul(m.c(momentum), buf),
                           m.mul(m.c(1 - dampening), g));
        if (dampening != 0) {
          Value first = m.bin<GreaterOp>(m.c(1.5), t); // t == 1
          next = m.add(m.mul(first, g), m.mul(m.sub(m.c(1.0), first), next));
        }
        g = nesterov ? m.add(g, m.mul(m.c(momentum), next)) : next;
        addResult(param, m.sub(p, m.mul(lr, g)), NNDialect::kParamAttr, name);
        addResult(cast<BlockArgument>(buf), next, NNDialect::kOptStateAttr,
                  bufName);
        continue;
      }
      addResult(param, m.sub(p, m.mul(lr, g)), NNDialect::kParamAttr, name);
      continue;
    }
    // Adam / AdamW:
    //   AdamW: p = p (1 - lr wd);   Adam: g = g + wd p
    //   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    //   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    double b1 = 0.9, b2 = 0.999;
    if (auto betas = optimizer.getAs<ArrayAttr>("betas")) {
      b1 = asF64(betas[0], b1);
      b2 = asF64(betas[1], b2);
    }
    double eps = getF64(optimizer, "eps", 1e-8);
    if (wd != 0 && kind == "adamw")
      p = m.mul(p, m.sub(m.c(1.0), m.mul(lr, m.c(wd))));
    if (wd != 0 && kind == "adam")
      g = m.add(g, m.mul(m.c(wd), p));
    auto [mArg, mName] = expAvg[index];
    auto [vArg, vName] = expAvgSq[index];
    Value mNext = m.add(m.mul(m.c(b1), mArg), m.mul(m.c(1 - b1), g));
    Value vNext = m.add(m.mul(m.c(b2), vArg), m.mul(m.c(1 - b2), m.mul(g, g)));
    Value bc1 = oneMinusPower(m, b1, t);
    Value bc2 = oneMinusPower(m, b2, t);
    Value denom = m.add(m.div(m.sqrt(vNext), m.sqrt(bc2)), m.c(eps));
    Value stepSize = m.div(lr, bc1);
    addResult(param, m.sub(p, m.mul(stepSize, m.div(mNext, denom))),
              NNDialect::kParamAttr, name);
    addResult(cast<BlockArgument>(mArg), mNext, NNDialect::kOptStateAttr,
              mName);
    addResult(cast<BlockArgument>(vArg), vNext, NNDialect::kOptStateAttr,
              vName);
  }
  for (BlockArgument arg : body.getArguments()) {
    auto it = stateResults.find(arg);
    if (it == stateResults.end())
      continue;
    results.push_back(it->second.first);
    resultAttrs.push_back(it->second.second);
  }

  ret->setOperands(results);
  step.setType(FunctionType::get(context, argTypes,
                                 ValueRange(results).getTypes()));
  step.setAllArgAttrs(argAttrs);
  step.setAllResultAttrs(resultAttrs);
  return success();
}

} // namespace
