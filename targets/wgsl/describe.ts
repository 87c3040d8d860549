// A comment header for a generated shader (`kiln dump --stage wgsl`): the
// kernel, its template, what each binding is, the uniform layout and the grid.

import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { formatDim } from '../../compiler/types.js';
import type { WgslKernel } from './codegen.js';
import { layoutOf } from './layout.js';

function bufferLabel(p: KernelProgram | undefined, id: number): string {
  const b = p?.buffers.find((x) => x.id === id);
  if (!b) return `b${id}`;
  const role = b.role.kind === 'temp' ? 'temp' : `${b.role.kind} '${b.role.name}'`;
  return `b${id} ${role} ${b.dtype}[${formatDim(b.size)}]`;
}

export function describeWgsl(k: Kernel, w: WgslKernel, p?: KernelProgram): string {
  const lines = [
    `kernel ${k.name} (${k.kind}): template ${w.template}, ${w.workgroupSize} invocations per workgroup`,
    `ops: ${k.ops.join(', ')}`,
    'bindings:',
    ...w.bindings.map((b, i) => `  @binding(${i}) ${bufferLabel(p, b.buf)} (${b.access})`),
  ];
  const u = layoutOf(k).uniform;
  if (u && w.uniform) {
    lines.push(`uniform: @binding(${w.uniform.binding}), ${w.uniform.bytes} bytes`);
    for (const f of u.fields) lines.push(`  +${f.offset} ${f.name}: ${f.type} = ${f.kind} ${f.source}`);
  }
  const groups = w.grid.map((g) =>
    typeof g.extent === 'number'
      ? String(Math.ceil(g.extent / g.per))
      : g.per === 1
        ? formatDim(g.extent)
        : `ceil(${formatDim(g.extent)} / ${g.per})`,
  );
  lines.push(`grid: ${groups.join(' * ')} workgroups`);
  return lines.map((l) => `// ${l}`).join('\n');
}
