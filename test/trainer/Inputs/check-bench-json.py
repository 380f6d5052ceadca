"""Checks a `trainer bench --json` report (docs/trainer.md has the schema):
every documented key is present with a value of the right kind, the step's
kernel count matches the kernel list, and with --baseline (kiln bench) the
baseline report is checked the same way. Prints one summary line per report
for FileCheck; exits nonzero on the first mismatch."""
import json
import sys

REPORT = {"model": str, "source": str, "target": str, "batch": int,
          "steps": int, "warmup": int, "threads": int, "peak": dict,
          "step": dict, "kernels": list}
PEAK = {"gflops": float, "gbs": float, "gflops_measured": bool,
        "gbs_measured": bool, "method": str}
STEP = {"median_us": float, "min_us": float, "samples_per_second": float,
        "kernel_calls": int, "flops": float, "bytes": float}
KERNEL = {"index": int, "kernel": str, "op": str, "source": str,
          "median_us": float, "min_us": float, "flops": float, "bytes": float,
          "gflops": (float, type(None)), "gbs": float, "intensity": float,
          "roofline_gflops": (float, type(None)), "roofline_percent": float}


def check(obj, keys, where):
    for key, kind in keys.items():
        assert key in obj, f"{where}: no '{key}'"
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # JSON writes 3.0 as 3: an int is a valid float.
        if float in kinds:
            kinds = kinds + (int,)
        assert isinstance(obj[key], kinds), f"{where}.{key}: {obj[key]!r}"


def check_report(report, name):
    check(report, REPORT, name)
    check(report["peak"], PEAK, name + ".peak")
    check(report["step"], STEP, name + ".step")
    for k in report["kernels"]:
        check(k, KERNEL, f"{name}.kernels[{k.get('index')}]")
    assert report["step"]["kernel_calls"] == len(report["kernels"])
    peak = report["peak"]
    for k in report["kernels"]:
        where = f"{name}.kernels[{k['index']}]"
        assert k["bytes"] > 0, where
        # The derived columns follow from the measured ones.
        close = lambda a, b: abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1e-9)
        assert close(k["gbs"], k["bytes"] / k["median_us"] * 1e-3), where
        assert close(k["intensity"], k["flops"] / k["bytes"]), where
        if k["flops"] > 0:
            roof = min(peak["gflops"], k["intensity"] * peak["gbs"])
            assert close(k["roofline_gflops"], roof), where
            assert close(k["roofline_percent"], 100 * k["gflops"] / roof), where
        else:
            assert k["gflops"] is None and k["roofline_gflops"] is None, where
            assert close(k["roofline_percent"], 100 * k["gbs"] / peak["gbs"]), where
    assert any(k["flops"] > 0 for k in report["kernels"]), f"{name}: no FLOPs"
    print(f"{name}: model {report['model']} batch {report['batch']} "
          f"{len(report['kernels'])} kernels, peak {report['peak']['gflops']:g} "
          f"GFLOP/s {report['peak']['gbs']:g} GB/s")


report = json.load(open(sys.argv[1]))
check_report(report, "report")
if "baseline" in report:
    check_report(report["baseline"], "baseline")
    assert isinstance(report["speedup"], (int, float))
    print("speedup present")
