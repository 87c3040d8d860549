// `kiln check FILE...`: parse and type-check; print each model's inputs,
// params and outputs. Several files are each checked and reported under a
// header naming the file, a failing one included; the status is the worst.

import { loadKilnFile } from '../../dsl/frontend.js';
import { evalDim, formatType, isStatic, numel } from '../../compiler/types.js';
import type { Output } from '../output.js';
import { CHECK_BATCH, WASM_MAX_BYTES, checkLine, formatBytes, graphEstimate, paramBytes } from '../memory-estimate.js';

/** Checks every file; one file's error is thrown, as any command's, while several are each reported. */
export async function checkCommand(files: readonly string[], out: Output): Promise<number> {
  if (files.length === 1) return checkFile(files[0]!, out);
  let status = 0;
  for (const [i, file] of files.entries()) {
    out.stdout(`${i === 0 ? '' : '\n'}==> ${file} <==\n`);
    try {
      await checkFile(file, out);
    } catch (e) {
      // Loaded only on an error: errors.ts brings the runtime's safetensors reader along.
      const { reportError } = await import('../errors.js');
      status = Math.max(status, reportError(e, out.stderr));
    }
  }
  return status;
}

async function checkFile(file: string, out: Output): Promise<number> {
  const { result } = loadKilnFile(file);
  if (result.models.length === 0) {
    // Loaded only on an error, as below.
    const { UserError } = await import('../errors.js');
    throw new UserError(`${file}: no model to check (a source declares at least one 'model NAME(...) { ... }')`);
  }
  for (const m of result.models) {
    let total = 0;
    out.stdout(`model ${m.name}\n`);
    for (const i of m.inputs) out.stdout(`  input  ${i.name}: ${formatType(i.type)}\n`);
    for (const p of m.params) {
      const n = numel(p.type.shape);
      const count = isStatic(n) ? n : evalDim(n, new Map());
      total += count;
      out.stdout(`  param  ${p.name}: ${formatType(p.type)}  (${groupDigits(count)})\n`);
    }
    for (const o of m.outputs) out.stdout(`  output ${o.name}: ${formatType(o.type)}\n`);
    out.stdout(`  ${groupDigits(total)} parameters\n`);
    const bytes = paramBytes(m);
    out.stdout(
      `  ${formatBytes(bytes)} of parameters${bytes > WASM_MAX_BYTES ? ": more than wasm's 4 GiB, so it cannot run" : ''}\n`,
    );
    const e =
      bytes > WASM_MAX_BYTES
        ? undefined
        : graphEstimate(
            m,
            result.trains.find((t) => t.model === m.name),
            CHECK_BATCH,
          );
    if (e) out.stdout(`  ${checkLine(e)}\n`);
  }
  for (const t of result.trains) {
    const opt = Object.entries(t.optimizer.args)
      .map(([k, v]) => `${k} = ${v}`)
      .join(', ');
    out.stdout(`train ${t.model}: minimize ${t.minimize} with ${t.optimizer.name}(${opt})`);
    if (t.freeze.length > 0) out.stdout(`, freezing ${t.freeze.join(', ')}`);
    if (t.gradient?.kind === 'forward')
      out.stdout(`, forward gradient (${t.gradient.directions} direction${t.gradient.directions === 1 ? '' : 's'})`);
    out.stdout('\n');
  }
  out.stdout(`${file}: ok\n`);
  return 0;
}

/**
 * `n.toLocaleString('en-US')` (1,234,567), by hand for integers: the first toLocaleString
 * loads ICU's number formatting, ~11 ms of every `kiln check`.
 */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}
