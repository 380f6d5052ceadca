# lit configuration for kiln's textual tests (lit + FileCheck). The build
# writes lit.site.cfg.py, which sets the paths below and loads this file; run
# the suite with `ctest` or `lit.py -sv build/test`.
import os

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".kiln", ".test"]
# e2e/models holds models for kiln-e2e-test (gtest), not lit tests.
config.excludes = ["Inputs", "unit", "models", "CMakeLists.txt", "lit.cfg.py",
                   "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "test")

# kiln's tools first, then LLVM 19's FileCheck, not and count.
config.environment["PATH"] = os.pathsep.join(
    [config.kiln_tools_dir, config.llvm_tools_dir, config.environment["PATH"]])

config.substitutions.append(("%kiln-opt", os.path.join(config.kiln_tools_dir, "kiln-opt")))
config.substitutions.append(("%kiln", os.path.join(config.kiln_tools_dir, "kiln")))
config.substitutions.append(("%examples", os.path.join(config.kiln_src_root, "examples")))

# An OpenCL device (PoCL, which scripts/install-deps.sh installs, runs
# OpenCL on the CPU) lets tests run the trainer's GPU path.
vendors = "/etc/OpenCL/vendors"
if os.path.isdir(vendors) and any(f.endswith(".icd") for f in os.listdir(vendors)):
    config.available_features.add("opencl")
