// A typed artifact: the TypeScript declarations of an artifact's tensors
// (`kiln compile --dts`), so an app that loads it gets type errors for a
// wrong input name, a wrong dtype or a wrong static dimension:
//
//   import type { Mlp } from './mlp-artifact/model.d.ts';
//   const m = await loadModel<Mlp>('mlp-artifact');
//   const { probs } = await m.run({ x: { data, shape: [n, 784] } }); // probs: F32 [number, 10]
//
// Built from the manifest alone, so it describes exactly what the runtime
// checks at run time. The file imports nothing: `Mlp` is a plain type that
// fits the runtime's `ModelTypes` (runtime/model.ts). A dtype is its typed
// array (f32 Float32Array, i32 Int32Array, bool Uint8Array); a shape is a
// readonly tuple, a static dimension its number literal and a symbolic one
// (`B`, `2*B`) `number`, named in the tensor's doc comment.

import type { DTypeSpec, DimSpec, Manifest, TensorSpec } from '../runtime/manifest.js';

/** The file `kiln compile --dts` writes in the artifact directory, when not given another path. */
export const DTS_FILE = 'model.d.ts';

/** The typed array of a dtype, as the runtime passes it. */
const ARRAY_OF: Readonly<Record<DTypeSpec, string>> = { f32: 'Float32Array', i32: 'Int32Array', bool: 'Uint8Array' };

/** `fashion_mlp` -> `FashionMlp`: the model's type name (a valid identifier, not a reserved word). */
export function typeNameOf(model: string): string {
  const name = model
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Za-z]/.test(name) ? name : `Model${name}`;
}

/** A dimension as its source writes it: `784`, `B`, `2*B`. */
function dimText(d: DimSpec): string {
  if (typeof d === 'number') return String(d);
  return [...(d.coef === 1 ? [] : [String(d.coef)]), ...d.syms].join('*') || '1';
}

/** `x`, or `'w1.m'` where the name is no identifier. */
function propertyName(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function tensorMember(t: TensorSpec): string {
  const shape = t.shape.map((d) => (typeof d === 'number' ? String(d) : 'number')).join(', ');
  return (
    `  /** ${t.dtype}[${t.shape.map(dimText).join(', ')}] */\n` +
    `  readonly ${propertyName(t.name)}: { readonly data: ${ARRAY_OF[t.dtype]}; readonly shape: readonly [${shape}] };\n`
  );
}

function record(name: string, doc: string, tensors: readonly TensorSpec[]): string {
  return `/** ${doc} */\nexport type ${name} = {\n${tensors.map(tensorMember).join('')}};\n`;
}

export interface DtsOptions {
  /** The model's type name (default: from the model's name, `fashion_mlp` -> `FashionMlp`). */
  readonly typeName?: string;
}

/** The `.d.ts` text of an artifact: `<Name>Inputs`, `<Name>Outputs`, `<Name>Params` and `<Name>` itself. */
export function artifactDeclarations(manifest: Manifest, opts: DtsOptions = {}): string {
  const name = opts.typeName ?? typeNameOf(manifest.model);
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`'${name}' is not a TypeScript identifier`);
  const dims = [
    ...new Set(
      [...manifest.inputs, ...manifest.outputs, ...manifest.params].flatMap((t) =>
        t.shape.flatMap((d) => (typeof d === 'number' ? [] : d.syms)),
      ),
    ),
  ];
  const entries = [manifest.forward && 'run', manifest.train && 'step', manifest.jvp && 'jvp', manifest.vjp && 'vjp'];
  return [
    `// The tensors of Kiln model '${manifest.model}' (target ${manifest.target}; entries ${entries.filter(Boolean).join(', ')}).\n` +
      '// Written by `kiln compile --dts`; recompile rather than edit. Use it as\n' +
      `//   const model = await loadModel<${name}>(dir); // import { loadModel } from 'kiln/runtime'\n` +
      "// Shapes are tuples: a static dimension is its number, a symbolic one (named in each tensor's comment) is `number`.\n" +
      (dims.length > 0 ? `// Symbolic dimensions: ${dims.join(', ')}.\n` : ''),
    record(`${name}Inputs`, `What \`run\` and \`step\` take: the inputs of '${manifest.model}'.`, manifest.inputs),
    record(`${name}Outputs`, `What \`run\` returns: the outputs of '${manifest.model}'.`, manifest.outputs),
    record(
      `${name}Params`,
      `The params of '${manifest.model}' (\`getParams\`, \`setParams\`; optimizer state is named \`<param>.<state>\`).`,
      manifest.params.filter((p) => p.role === 'param'),
    ),
    `/** Model '${manifest.model}' for the runtime: \`loadModel<${name}>(...)\` gives a \`Model<${name}>\`. */\n` +
      `export type ${name} = {\n  readonly inputs: ${name}Inputs;\n  readonly outputs: ${name}Outputs;\n  readonly params: ${name}Params;\n};\n`,
  ].join('\n');
}
