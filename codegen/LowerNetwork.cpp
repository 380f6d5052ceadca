//===- LowerNetwork.cpp - convolution, pooling, normalization ---*- C++ -*-===//
//
// Part of kiln. Being written (issue #4).
//
//===----------------------------------------------------------------------===//

#include "codegen/Lowering.h"

void kiln::codegen::addNetworkRules(RuleTable &) {}
