// ONNX's elementwise ops broadcast (NumPy rules, right-aligned); the IR's
// do not, so every broadcast in it is an explicit `expand`, often after a
// `reshape` that only prepends size-1 axes. An operand of an elementwise op
// is taken from before those where ONNX's broadcasting gives the same
// result shape: `x + b` exports as Add(x, b), not Add(x, Expand(Reshape(b))).

import type { Node } from '../../compiler/ir.js';
import { type Dim, type Shape, dimEq } from '../../compiler/types.js';

/** The inputs an ONNX node for `n` reads: broadcasts dropped from elementwise operands. */
export function effectiveInputs(n: Node): readonly Node[] {
  if (n.op !== 'binary' && n.op !== 'where') return n.inputs;
  const ins = [...n.inputs];
  for (let i = 0; i < ins.length; i++) {
    const bare = unbroadcast(ins[i]!);
    if (bare === ins[i]) continue;
    const trial = ins.map((x, j) => (j === i ? bare : x));
    if (
      broadcastsTo(
        trial.map((x) => x.shape),
        n.shape,
      )
    )
      ins[i] = bare;
  }
  return ins;
}

/** `x` before any expand and leading-ones reshape around it. */
function unbroadcast(x: Node): Node {
  let y = x;
  for (;;) {
    if (y.op === 'expand') y = y.inputs[0]!;
    else if (y.op === 'reshape' && onlyPrependsOnes(y.inputs[0]!.shape, y.shape)) y = y.inputs[0]!;
    else return y;
  }
}

function onlyPrependsOnes(from: Shape, to: Shape): boolean {
  const lead = to.length - from.length;
  return lead > 0 && to.slice(0, lead).every((d) => d === 1) && from.every((d, i) => dimEq(d, to[lead + i]!));
}

/** Whether ONNX's multidirectional broadcasting of `shapes` gives exactly `target`. */
function broadcastsTo(shapes: readonly Shape[], target: Shape): boolean {
  if (shapes.some((s) => s.length > target.length)) return false;
  return target.every((t, i) => {
    const dims: Dim[] = shapes.map((s) => s[i - (target.length - s.length)] ?? 1);
    const big = dims.filter((d) => d !== 1);
    return big.length === 0 ? t === 1 : big.every((d) => dimEq(d, t));
  });
}
