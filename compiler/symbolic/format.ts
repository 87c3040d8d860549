// Text of monomials and sums over named atoms, as dims and byte counts print:
// `B*T`, `2*B`, `10*B + 10`, `-3*B - 1`.

/** coef * names joined by `*`, the coefficient left out when it is 1. */
export function formatMono(coef: number, names: readonly string[]): string {
  if (names.length === 0) return String(coef);
  return (coef === 1 ? [...names] : [String(coef), ...names]).join('*');
}

/** A sum of monomials in the given order; `0` when empty. */
export function formatSum(terms: readonly { readonly coef: number; readonly names: readonly string[] }[]): string {
  if (terms.length === 0) return '0';
  return terms
    .map((t, i) => {
      const s = formatMono(Math.abs(t.coef), t.names);
      return i === 0 ? (t.coef < 0 ? `-${s}` : s) : `${t.coef < 0 ? '-' : '+'} ${s}`;
    })
    .join(' ');
}
