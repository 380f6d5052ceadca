//===- NNGradOps.td - nn ops that backward passes use ----------*- tablegen -*-===//
//
// Part of kiln. Ops that gradient rules and optimizer lowering emit: masks
// and broadcasts, and one `*_grad` op per forward op whose gradient is not a
// short composition of other nn ops (convolution, pooling, losses,
// normalizations, scatters). Keeping these as ops (rather than expanding
// them) lets fusion and codegen treat a backward kernel as one unit and the
// reference evaluator define it plainly. Included by NNOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IR_NNGRADOPS_TD
#define KILN_IR_NNGRADOPS_TD

//===----------------------------------------------------------------------===//
// Helpers: masks, broadcasting, padding, scalar math for schedules
//===----------------------------------------------------------------------===//

def NN_CosOp : NN_UnaryOp<"cos", "cos(x)">;
def NN_FloorOp : NN_UnaryOp<"floor", "floor(x)">;
def NN_SignOp : NN_UnaryOp<"sign", "sign(x) in {-1, 0, 1}">;

def NN_GreaterOp : NN_BinaryOp<"greater", "mask a > b (1.0 or 0.0)">;

def NN_BroadcastToOp : NN_Op<"broadcast_to", [Pure, NN_Differentiable,
    AllTypesMatch<["like", "result"]>]> {
  let summary = "Broadcast `input` to the shape of `like` (NumPy rules)";
  let description = [{
    Only `like`'s shape is read. Used by gradients of reductions, whose
    result must regain the shape of the (possibly dynamically batched)
    input.
  }];
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$like);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $like attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def NN_PadOp : NN_Op<"pad", [Pure, NN_Differentiable]> {
  let summary = "Zero-pad one axis with `before` and `after` elements";
  let description = [{ The gradient of `nn.slice`. }];
  let arguments = (ins NN_F32Tensor:$input, I64Attr:$axis, I64Attr:$before,
                       I64Attr:$after);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward ops with the type of one of their operands
//===----------------------------------------------------------------------===//

class NN_GradOp<string mnemonic, string math, list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat(traits, [Pure])> {
  let summary = "Gradient: " # math;
}

def NN_ReluGradOp : NN_GradOp<"relu_grad", "g * (x > 0)",
    [AllTypesMatch<["grad", "input", "result"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` type($result)";
}

def NN_LeakyReluGradOp : NN_GradOp<"leaky_relu_grad",
    "g * (x > 0 ? 1 : alpha)", [AllTypesMatch<["grad", "input", "result"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       DefaultValuedAttr<F64Attr, "0.01">:$alpha);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` type($result)";
}

def NN_GeluGradOp : NN_GradOp<"gelu_grad", "g * d/dx (x * Phi(x))",
    [AllTypesMatch<["grad", "input", "result"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = "$grad `,` $input attr-dict `:` type($result)";
}

def NN_MaxPool2dGradOp : NN_GradOp<"max_pool2d_grad",
    "each window's g routed to its first maximum",
    [AllTypesMatch<["input", "result"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$padding);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input)
  }];
  let hasVerifier = 1;
}

def NN_AvgPool2dGradOp : NN_GradOp<"avg_pool2d_grad",
    "each window's g spread evenly over the window (padding counted)",
    [AllTypesMatch<["input", "result"]>]> {
  let description = [{ `input` supplies only the shape. }];
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$padding);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input)
  }];
  let hasVerifier = 1;
}

def NN_ReduceMeanGradOp : NN_GradOp<"reduce_mean_grad",
    "g broadcast over the reduced axes, divided by their element count",
    [AllTypesMatch<["input", "result"]>]> {
  let description = [{
    `input` supplies only the shape (the count may involve the dynamic batch
    dimension, known only at run time).
  }];
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keepdim);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input)
  }];
}

def NN_ReduceMaxGradOp : NN_GradOp<"reduce_max_grad",
    "g split evenly among the positions equal to the maximum (amax)",
    [AllTypesMatch<["input", "result"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       NN_F32Tensor:$max, DenseI64ArrayAttr:$axes,
                       UnitAttr:$keepdim);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input `,` $max attr-dict `:` type($grad) `,` type($input) `,`
    type($max)
  }];
}

class NN_LossGradOp<string mnemonic, string math, Type target>
    : NN_GradOp<mnemonic, math, [AllTypesMatch<["input", "result"]>]> {
  let description = [{
    `grad` is the scalar gradient of the loss; the mean reduction's
    1/N is applied here with N known at run time.
  }];
  let arguments = (ins NN_Scalar:$grad, NN_F32Tensor:$input, target:$target);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input `,` $target attr-dict `:` type($grad) `,` type($input)
    `,` type($target)
  }];
}

def NN_CrossEntropyGradOp : NN_LossGradOp<"cross_entropy_grad",
    "g * (softmax(x) - onehot(t)) / N", NN_I64Tensor>;
def NN_NllGradOp : NN_LossGradOp<"nll_grad", "-g * onehot(t) / N",
    NN_I64Tensor>;
def NN_BceWithLogitsGradOp : NN_LossGradOp<"bce_with_logits_grad",
    "g * (sigmoid(x) - t) / numel", NN_F32Tensor>;
def NN_MseGradOp : NN_LossGradOp<"mse_grad", "g * 2 (x - t) / numel",
    NN_F32Tensor>;

//===----------------------------------------------------------------------===//
// Backward ops with their own result types
//===----------------------------------------------------------------------===//

def NN_Conv2dGradInputOp : NN_GradOp<"conv2d_grad_input",
    "transposed convolution of g with the weight"> {
  let description = [{
    The result type is the forward input's (it cannot be recovered from the
    output when the stride drops rows); the verifier checks that conv2d of
    that type with `weight` gives `grad`'s type.
  }];
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$weight,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilation,
                       DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight attr-dict `:` type($grad) `,` type($weight) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def NN_Conv2dGradWeightOp : NN_GradOp<"conv2d_grad_weight",
    "correlation of the input with g, summed over the batch"> {
  let arguments = (ins NN_F32Tensor:$input, NN_F32Tensor:$grad,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                       DenseI64ArrayAttr:$dilation,
                       DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $grad attr-dict `:` type($input) `,` type($grad) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def NN_BatchNormGradOp : NN_GradOp<"batch_norm_grad",
    "training-mode batch norm; statistics recomputed from the input",
    [AllTypesMatch<["grad", "input", "input_grad"]>,
     AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       NN_F32Tensor:$weight,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs NN_F32Tensor:$input_grad, NN_F32Tensor:$weight_grad,
                      NN_F32Tensor:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
}

def NN_LayerNormGradOp : NN_GradOp<"layer_norm_grad",
    "layer norm over the last dimension; statistics recomputed",
    [AllTypesMatch<["grad", "input", "input_grad"]>,
     AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let arguments = (ins NN_F32Tensor:$grad, NN_F32Tensor:$input,
                       NN_F32Tensor:$weight,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs NN_F32Tensor:$input_grad, NN_F32Tensor:$weight_grad,
                      NN_F32Tensor:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
}

def NN_EmbeddingGradOp : NN_GradOp<"embedding_grad",
    "scatter-add of g's rows into a zero table at the indices"> {
  let arguments = (ins NN_F32Tensor:$grad, NN_I64Tensor:$indices);
  let results = (outs NN_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $indices attr-dict `:` type($grad) `,` type($indices) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

#endif // KILN_IR_NNGRADOPS_TD
