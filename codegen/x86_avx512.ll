; Part of kiln: 16-lane versions of Halide 14's x86 math runtime functions.
;
; Halide looks a vector call such as sqrt_f32 up as sqrt_f32x<lanes> in its
; x86 runtime module, trying the widest width first. Halide 14 defines
; these only up to 8 lanes (x86_avx.ll), so on AVX-512 every 16-lane sqrt
; and floor (inside exp, too) became two 256-bit instructions. On the
; development machine's AMD EPYC, that made the MLP's Adam kernel 1.4x
; slower on one thread with its data in cache (67 against 48 us;
; docs/performance.md). Kernels.cpp
; links this module into every x86 CPU kernel; on a target without AVX-512,
; LLVM splits the 16-lane intrinsics as Halide would have.
;
; Assembled with LLVM 14's llvm-as (Halide 14's LLVM reads its bitcode).

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare <16 x float> @llvm.sqrt.v16f32(<16 x float>)
declare <16 x float> @llvm.floor.v16f32(<16 x float>)

define weak_odr <16 x float> @sqrt_f32x16(<16 x float> %x) nounwind readnone alwaysinline {
  %r = call <16 x float> @llvm.sqrt.v16f32(<16 x float> %x)
  ret <16 x float> %r
}

define weak_odr <16 x float> @floor_f32x16(<16 x float> %x) nounwind readnone alwaysinline {
  %r = call <16 x float> @llvm.floor.v16f32(<16 x float> %x)
  ret <16 x float> %r
}
