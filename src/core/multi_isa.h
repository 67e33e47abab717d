// DUQ_MULTI_ISA: a function GCC compiles for several x86 ISA levels (AVX-512, AVX2, baseline) and picks at load
// time (target_clones + ifunc), so a plain loop runs vectorised at the machine's width without a hand-written
// kernel. Elsewhere (aarch64: scripts/cross_aarch64.sh) an ordinary function.
#pragma once

#if defined(__x86_64__)
#define DUQ_MULTI_ISA __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DUQ_MULTI_ISA
#endif
