//===- NNOps.td - nn dialect operations ----------------------*- tablegen -*-===//
//
// Part of kiln. The ops of the nn dialect. Each op states its shape rule in
// its description; the rule is implemented once, in inferReturnTypes, and
// used by the verifier, by MLIRGen (to report shape errors at the DSL
// location) and by the shape-inference pass.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_NNOPS_TD
#define KILN_IR_NNOPS_TD

include "ir/NNDialect.td"
include "ir/NNInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class NN_Op<string mnemonic, list<Trait> traits = []>
    : Op<NN_Dialect, mnemonic, traits>;

// Differentiable ops implement buildGradients in NNGradients.cpp.
def NN_Differentiable : DeclareOpInterfaceMethods<NN_GradientOpInterface>;

def NN_F32Tensor : RankedTensorOf<[F32]>;
def NN_I64Tensor : RankedTensorOf<[I64]>;
def NN_Tensor : RankedTensorOf<[F32, I64]>;
def NN_Scalar : 0DTensorOf<[F32]>;

// Ops whose result type follows from operands and attributes.
class NN_InferredOp<string mnemonic, list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat(traits, [Pure,
        InferTypeOpAdaptorWithIsCompatible])>;

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def NN_ConstantOp : NN_Op<"constant", [ConstantLike, Pure,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "A tensor constant";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise unary ops (f32 -> f32, same shape)
//===----------------------------------------------------------------------===//

class NN_UnaryOp<string mnemonic, string math, list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat(traits,
        [Pure, SameOperandsAndResultType, NN_Differentiable])> {
  let summary = "Elementwise " # math;
  let arguments = (ins NN_F32Tensor:$input);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def NN_NegOp : NN_UnaryOp<"neg", "-x"> { let hasFolder = 1; }
def NN_ExpOp : NN_UnaryOp<"exp", "e^x">;
def NN_LogOp : NN_UnaryOp<"log", "ln x"> { let hasFolder = 1; }
def NN_SqrtOp : NN_UnaryOp<"sqrt", "sqrt(x)">;
def NN_AbsOp : NN_UnaryOp<"abs", "|x|">;
def NN_ReluOp : NN_UnaryOp<"relu", "max(x, 0)"> { let hasFolder = 1; }
def NN_SigmoidOp : NN_UnaryOp<"sigmoid", "1 / (1 + e^-x)">;
def NN_TanhOp : NN_UnaryOp<"tanh", "tanh(x)">;

def NN_LeakyReluOp : NN_UnaryOp<"leaky_relu", "x > 0 ? x : alpha * x"> {
  let arguments = (ins NN_F32Tensor:$input,
                       DefaultValuedAttr<F64Attr, "0.01">:$alpha);
}

def NN_GeluOp : NN_UnaryOp<"gelu", "x * Phi(x)"> {
  let description = [{
    `approximate = "none"` is the exact erf form; `"tanh"` is PyTorch's tanh
    approximation.
  }];
  let arguments = (ins NN_F32Tensor:$input,
                       DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise binary ops with NumPy broadcasting
//===----------------------------------------------------------------------===//

class NN_BinaryOp<string mnemonic, string math, list<Trait> traits = []>
    : NN_InferredOp<mnemonic, !listconcat(traits, [NN_Differentiable])> {
  let summary = "Elementwise " # math # " with broadcasting";
  let description = [{
    Operands broadcast with NumPy's rules: shapes are aligned at the last
    dimension and each pair of dimensions must be equal or one of them 1.
    A dynamic dimension paired with 1 stays dynamic.
  }];
  let arguments = (ins NN_F32Tensor:$lhs, NN_F32Tensor:$rhs);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

def NN_AddOp : NN_BinaryOp<"add", "a + b", [Commutative]> {
  let hasFolder = 1;
}
def NN_SubOp : NN_BinaryOp<"sub", "a - b"> { let hasFolder = 1; }
def NN_MulOp : NN_BinaryOp<"mul", "a * b", [Commutative]> {
  let hasFolder = 1;
}
def NN_DivOp : NN_BinaryOp<"div", "a / b"> { let hasFolder = 1; }
def NN_PowOp : NN_BinaryOp<"pow", "a ^ b"> { let hasFolder = 1; }
def NN_MaximumOp : NN_BinaryOp<"maximum", "max(a, b)", [Commutative]>;
def NN_MinimumOp : NN_BinaryOp<"minimum", "min(a, b)", [Commutative]>;

//===----------------------------------------------------------------------===//
// Linear algebra and convolution
//===----------------------------------------------------------------------===//

def NN_MatmulOp : NN_InferredOp<"matmul", [NN_Differentiable]> {
  let summary = "Matrix product, optionally of transposed operands";
  let description = [{
    Rank 2: `[m, k] x [k, n] -> [m, n]`; rank 3: a batched product over a
    shared leading dimension. `transpose_a` / `transpose_b` swap the last two
    dimensions of an operand before the product, so a PyTorch Linear layer
    (`weight` stored `[out, in]`) is `matmul(x, W) {transpose_b}`.
  }];
  let arguments = (ins NN_F32Tensor:$lhs, NN_F32Tensor:$rhs,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

def NN_Conv2dOp : NN_InferredOp<"conv2d", [NN_Differentiable]> {
  let summary = "2-D convolution, NCHW activations, OIHW weights";
  let description = [{
    `input [N, C, H, W]`, `weight [O, C/groups, KH, KW]` ->
    `[N, O, (H + 2*ph - dh*(KH-1) - 1)/sh + 1, (likewise W)]`. PyTorch's
    Conv2d without bias (bias is a broadcast add after it).
  }];
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$weight,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilation,
                       DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->`
    type($result)
  }];
}

class NN_Pool2dOp<string mnemonic, string what>
    : NN_InferredOp<mnemonic, [NN_Differentiable]> {
  let summary = "2-D " # what # " pooling over NCHW";
  let description = [{
    `[N, C, H, W] -> [N, C, (H + 2*ph - kh)/sh + 1, (likewise W)]` (floor).
    Padding is at most half the window, as in PyTorch.
  }];
  let arguments = (ins NN_F32Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NN_MaxPool2dOp : NN_Pool2dOp<"max_pool2d", "max">;
def NN_AvgPool2dOp : NN_Pool2dOp<"avg_pool2d", "average (padding counted)">;

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def NN_ReshapeOp : NN_Op<"reshape", [Pure, NN_Differentiable]> {
  let summary = "Reinterpret a tensor's row-major elements with a new shape";
  let description = [{
    The element count is preserved. A dynamic dimension may appear only as
    dimension 0 of both the operand and the result (the batch dimension is
    carried through); all other dimensions are static.
  }];
  let arguments = (ins NN_Tensor:$input);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def NN_TransposeOp : NN_InferredOp<"transpose", [NN_Differentiable]> {
  let summary = "Permute dimensions: result dim i = input dim perm[i]";
  let arguments = (ins NN_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def NN_ConcatOp : NN_InferredOp<"concat", [NN_Differentiable]> {
  let summary = "Join tensors along one axis";
  let arguments = (ins Variadic<NN_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type($inputs, $result)
  }];
  let hasFolder = 1;
}

def NN_SliceOp : NN_InferredOp<"slice", [NN_Differentiable]> {
  let summary = "Elements [start, end) along one axis";
  let arguments = (ins NN_Tensor:$input, I64Attr:$axis, I64Attr:$start,
                       I64Attr:$end);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

class NN_ReduceOp<string mnemonic, string what>
    : NN_InferredOp<mnemonic, [NN_Differentiable]> {
  let summary = what # " over the given axes";
  let description = [{
    `axes` are distinct, non-negative and sorted. With `keepdim` reduced
    dimensions stay as size 1, otherwise they are removed.
  }];
  let arguments = (ins NN_F32Tensor:$input, DenseI64ArrayAttr:$axes,
                       UnitAttr:$keepdim);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NN_ReduceSumOp : NN_ReduceOp<"reduce_sum", "Sum">;
def NN_ReduceMeanOp : NN_ReduceOp<"reduce_mean", "Mean">;
def NN_ReduceMaxOp : NN_ReduceOp<"reduce_max", "Maximum">;

def NN_ArgmaxOp : NN_InferredOp<"argmax"> {
  let summary = "Index of the first maximum along an axis (removed)";
  let arguments = (ins NN_F32Tensor:$input, I64Attr:$axis);
  let results = (outs NN_I64Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

class NN_SoftmaxLikeOp<string mnemonic, string what>
    : NN_Op<mnemonic, [Pure, SameOperandsAndResultType, NN_Differentiable]> {
  let summary = what # " along one axis";
  let arguments = (ins NN_F32Tensor:$input, I64Attr:$axis);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def NN_SoftmaxOp : NN_SoftmaxLikeOp<"softmax", "Softmax">;
def NN_LogSoftmaxOp : NN_SoftmaxLikeOp<"log_softmax", "Log-softmax">;

def NN_BatchNormOp : NN_Op<"batch_norm", [Pure, NN_Differentiable,
    AllTypesMatch<["input", "result"]>,
    AllTypesMatch<["weight", "bias", "running_mean", "running_var",
                   "new_running_mean", "new_running_var"]>]> {
  let summary = "Batch normalization in training mode";
  let description = [{
    Normalizes `input` ([N, C] or [N, C, H, W]) per channel C with the batch's
    mean and biased variance, then scales by `weight` and shifts by `bias`
    ([C]). Also returns the updated running statistics, as PyTorch does:
    `running = (1 - momentum) * running + momentum * batch_stat`, where the
    variance folded in is the unbiased one.
  }];
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$weight,
                       NN_F32Tensor:$bias, NN_F32Tensor:$running_mean,
                       NN_F32Tensor:$running_var,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps,
                       DefaultValuedAttr<F64Attr, "0.1">:$momentum);
  let results = (outs NN_F32Tensor:$result, NN_F32Tensor:$new_running_mean,
                      NN_F32Tensor:$new_running_var);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def NN_BatchNormInferenceOp : NN_Op<"batch_norm_inference",
    [Pure, AllTypesMatch<["input", "result"]>,
     AllTypesMatch<["weight", "bias", "running_mean", "running_var"]>]> {
  let summary = "Batch normalization with running statistics (eval mode)";
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$weight,
                       NN_F32Tensor:$bias, NN_F32Tensor:$running_mean,
                       NN_F32Tensor:$running_var,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def NN_LayerNormOp : NN_Op<"layer_norm",
    [Pure, NN_Differentiable, AllTypesMatch<["input", "result"]>,
     AllTypesMatch<["weight", "bias"]>]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `(x - mean) / sqrt(var + eps) * weight + bias` with mean and biased
    variance over the last dimension; `weight` and `bias` have that
    dimension's size.
  }];
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$weight,
                       NN_F32Tensor:$bias,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Randomness, lookup
//===----------------------------------------------------------------------===//

def NN_DropoutOp : NN_Op<"dropout", [Pure, NN_Differentiable,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Inverted dropout with a counter-based random mask";
  let description = [{
    Keeps each element with probability `1 - p` and scales kept elements by
    `1 / (1 - p)`. The mask is a pure function of (`seed`, `stream`, element
    index), so backward recomputes exactly the forward mask and two dropout
    ops never share one (each has its own `stream`).
  }];
  let arguments = (ins NN_F32Tensor:$input, 0DTensorOf<[I64]>:$seed, F64Attr:$p,
                       I64Attr:$stream);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $seed attr-dict `:` type($result) `,` type($seed)
  }];
  let hasVerifier = 1;
}

def NN_EmbeddingOp : NN_InferredOp<"embedding", [NN_Differentiable]> {
  let summary = "Rows of `table` [num, dim] selected by i64 `indices`";
  let arguments = (ins NN_I64Tensor:$indices, NN_F32Tensor:$table);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $indices `,` $table attr-dict `:` type($indices) `,` type($table) `->`
    type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Losses (mean reduction, scalar result)
//===----------------------------------------------------------------------===//

class NN_LossOp<string mnemonic, string what, Type target>
    : NN_InferredOp<mnemonic, [NN_Differentiable]> {
  let summary = what # ", averaged";
  let description = [{
    PyTorch's `reduction='mean'`: class-index losses average over the batch,
    elementwise losses over every element.
  }];
  let arguments = (ins NN_F32Tensor:$input, target:$target);
  let results = (outs NN_Scalar:$result);
  let assemblyFormat = [{
    $input `,` $target attr-dict `:` type($input) `,` type($target)
  }];
}

def NN_CrossEntropyOp
    : NN_LossOp<"cross_entropy", "Softmax cross-entropy of logits [N, C] "
                "against class indices [N]", NN_I64Tensor>;
def NN_NllOp
    : NN_LossOp<"nll", "Negative log-likelihood of log-probabilities [N, C] "
                "against class indices [N]", NN_I64Tensor>;
def NN_BceWithLogitsOp
    : NN_LossOp<"bce_with_logits", "Binary cross-entropy of logits against "
                "targets in [0, 1] of the same shape", NN_F32Tensor>;
def NN_MseOp
    : NN_LossOp<"mse", "Mean squared error against targets of the same shape",
                NN_F32Tensor>;

include "ir/NNGradOps.td"

//===----------------------------------------------------------------------===//
// Fused kernels
//===----------------------------------------------------------------------===//

def NN_KernelOp : NN_Op<"kernel", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "A group of ops that codegen emits as one kernel";
  let description = [{
    Made by kiln-fuse. The body computes the results from the block
    arguments (one per input, same types) with ordinary nn ops and ends in
    `nn.yield`; it is isolated from above, so everything it reads is an
    input. `name` is built from the ops it holds and names the kernel in
    the generated code and in profiles.

    ```mlir
    %r = nn.kernel "relu_grad_mul" (%g, %x : tensor<?x8xf32>, tensor<?x8xf32>)
        -> tensor<?x8xf32> {
    ^bb0(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>):
      %0 = nn.relu_grad %a, %b : tensor<?x8xf32>
      nn.yield %0 : tensor<?x8xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<NN_Tensor>:$inputs, StrAttr:$name);
  let results = (outs Variadic<NN_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name ` ` `(` ($inputs^ `:` type($inputs))? `)` attr-dict `->`
    `(` type($results) `)` $body
  }];
  let hasVerifier = 1;
}

def NN_YieldOp : NN_Op<"yield", [Pure, Terminator,
    HasParent<"KernelOp">]> {
  let summary = "The results of an nn.kernel";
  let arguments = (ins Variadic<NN_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ /* nothing */ }]>];
}

def NN_PackOp : NN_Op<"pack", [Pure]> {
  let summary = "The flattened concatenation of tensors (an arena)";
  let description = [{
    Made by kiln-fuse when it merges the same elementwise update of many
    tensors (the optimizer step of every parameter) into one kernel over
    their concatenation. The result is the row-major elements of each input
    in turn; every input has a static shape and the result's element type.
    kiln-plan-memory places the inputs back to back so that no copy is
    made: parameters and optimizer state already are (the trainer keeps
    them in one arena, runtime/Model.h), gradients are computed into their
    place in the packed buffer.

    ```mlir
    %g = nn.pack %gw, %gb : tensor<10x64xf32>, tensor<10xf32> -> tensor<650xf32>
    ```
  }];
  let arguments = (ins Variadic<NN_Tensor>:$inputs);
  let results = (outs NN_Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def NN_UnpackOp : NN_Op<"unpack", [Pure]> {
  let summary = "Splits a 1-D tensor into tensors of static shapes";
  let description = [{
    The inverse of nn.pack: result i holds the elements that follow those
    of results 0..i-1, in row-major order. A view: no data moves.

    ```mlir
    %w, %b = nn.unpack %p : tensor<650xf32> -> tensor<10x64xf32>, tensor<10xf32>
    ```
  }];
  let arguments = (ins NN_Tensor:$input);
  let results = (outs Variadic<NN_Tensor>:$results);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($results)
  }];
  let hasVerifier = 1;
}

#endif // KILN_IR_NNOPS_TD
