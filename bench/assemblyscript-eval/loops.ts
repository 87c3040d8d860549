// AssemblyScript timing loops around exp.ts (see ../assemblyscript-eval.md): dst[i..i+4) =
// f(src[i..i+4)) for i < n, n a multiple of 4. Each function has one caller here, so asc -O3
// inlines it into its loop, as Kiln's -O3 inlines its math library into a kernel loop.
import { exp, tanh } from './exp';

export function exp_v(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(dst + o, exp(v128.load(src + o)));
  }
}

export function tanh_v(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(dst + o, tanh(v128.load(src + o)));
  }
}
