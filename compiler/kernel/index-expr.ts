// Integer index arithmetic for the kernel IR: constructors that keep
// expressions in a canonical form, range analysis, and the div/mod
// simplifier that turns the index arithmetic of views (view.ts) back into
// plain strided offsets. The implementation lives in ./index/ (one file per
// concern; atoms.ts describes the canonical form), over the polynomial
// arithmetic of compiler/symbolic/; this entry re-exports its public API.

export { type IndexCtx, ctxOf, ic, idim, ifalse, isFalse, itrue, ivalue, ivar } from './index/atoms.js';
export { dimExpr, extentExpr, iadd, idiv, imod, imul, isub } from './index/canonical.js';
export { iand, ile, ilt } from './index/compare.js';
export { type IndexEnv, evalBool, evalIndex } from './index/eval.js';
export { type BoolFold, type IndexFold, type IndexOp, foldBool, foldIndex } from './walk.js';
export { indexEq, indexKey } from './index/keys.js';
export { printBool, printIndex, printValue } from './index/print.js';
export { type Range, range } from './index/range.js';
export { simplify, simplifyBool } from './index/simplify.js';
export { substBool, substIndex } from './index/walk.js';
