// How every generated module is optimised (codegen.ts), in a module of its
// own that imports binaryen only, so a bench can optimise a module of its own
// exactly the same way (bench/assemblyscript-eval/time.mjs).

import binaryen from 'binaryen';

/** Largest function (in binaryen's size measure) inlined where it is worth it. */
const INLINE_MAX_SIZE = 400;

/**
 * binaryen -O3 (shrink 0), inlining the math library's straight-line
 * functions into the kernel loops: a call spills every live vector register;
 * or -O2 for large modules, which leaves the math library's calls in place.
 * binaryen's settings are process-wide, so they are restored afterwards.
 */
export function optimize(m: binaryen.Module, level: 2 | 3): void {
  const saved = [binaryen.getOptimizeLevel(), binaryen.getShrinkLevel(), binaryen.getFlexibleInlineMaxSize()] as const;
  binaryen.setOptimizeLevel(level);
  binaryen.setShrinkLevel(0);
  binaryen.setFlexibleInlineMaxSize(INLINE_MAX_SIZE);
  try {
    m.optimize();
  } finally {
    binaryen.setOptimizeLevel(saved[0]);
    binaryen.setShrinkLevel(saved[1]);
    binaryen.setFlexibleInlineMaxSize(saved[2]);
  }
}
