// Kiln's import rules (README "How it is built"), checked by `npm run lint:imports`
// (part of `npm test`). Data flows text -> AST -> IR -> kernels -> code -> artifact
// -> runtime, and imports flow the same way: dsl -> compiler; targets -> compiler;
// api (the `kiln` library) on dsl, compiler and targets; cli on top of everything,
// and the playground page beside it; the runtime ships alone (`kiln/runtime`), so
// it imports nothing of the others. Type-only imports count: a circle of types is
// still a circle.

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No module may depend on itself through others (type-only imports included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'dsl-above-compiler-only',
      severity: 'error',
      comment: 'The front end builds the compiler model contract; it never reaches past the compiler.',
      from: { path: '^dsl/' },
      to: { path: '^(targets|runtime|api|cli)/' },
    },
    {
      name: 'compiler-below-dsl-targets-cli',
      severity: 'error',
      comment: 'The compiler defines what it consumes (compiler/model.ts) and what a code generator provides.',
      from: { path: '^compiler/' },
      to: { path: '^(dsl|targets|api|cli)/' },
    },
    {
      name: 'api-below-cli',
      severity: 'error',
      comment: 'The library is what the CLI could be built on: it never reaches into the CLI.',
      from: { path: '^api/' },
      to: { path: '^cli/' },
    },
    {
      name: 'targets-below-api',
      severity: 'error',
      comment: 'The code generators and the artifact sit below the library and the CLI.',
      from: { path: '^targets/' },
      to: { path: '^(api|cli)/' },
    },
    {
      name: 'wasm-not-wgsl',
      severity: 'error',
      comment: 'The two back ends share only what lives beside the kernel IR (compiler/kernel/).',
      from: { path: '^targets/wasm/' },
      to: { path: '^targets/wgsl/' },
    },
    {
      name: 'wgsl-not-wasm',
      severity: 'error',
      comment: 'The two back ends share only what lives beside the kernel IR (compiler/kernel/).',
      from: { path: '^targets/wgsl/' },
      to: { path: '^targets/wasm/' },
    },
    {
      name: 'runtime-stands-alone',
      severity: 'error',
      comment: 'The runtime loads artifacts without the compiler: it imports only itself (and npm packages).',
      from: { path: '^runtime/' },
      to: { path: '^(dsl|compiler|targets|api|cli|tests|bench)/' },
    },
    {
      name: 'no-tests-in-product',
      severity: 'error',
      comment: 'Product code never imports test helpers.',
      from: { path: '^(dsl|compiler|targets|runtime|api|cli|playground)/' },
      to: { path: '^tests/' },
    },
    {
      name: 'playground-on-the-compiler-and-runtime',
      severity: 'error',
      comment:
        'The playground page bundles the front end, compiler, back ends and runtime, not the library or the CLI.',
      from: { path: '^playground/' },
      to: { path: '^(api|cli|bench)/' },
    },
    {
      name: 'nothing-imports-the-playground',
      severity: 'error',
      comment: 'The playground is a page on top of everything (its test only runs its build script).',
      from: { pathNot: '^playground/' },
      to: { path: '^playground/' },
    },
    {
      name: 'nothing-imports-the-fuzzer',
      severity: 'error',
      comment: 'The fuzzer (fuzz/) drives the product from outside: only its own files and the tests import it.',
      from: { pathNot: '^(fuzz|tests)/' },
      to: { path: '^fuzz/' },
    },
    {
      name: 'fuzzer-on-the-product',
      severity: 'error',
      comment:
        'The fuzzer uses the front end, compiler, back ends and runtime, not the tests, benchmarks or playground.',
      from: { path: '^fuzz/' },
      to: { path: '^(tests|bench|playground)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'Every import resolves (a typo in a path is caught here too), but the modules playground/serve.mjs generates.',
      from: {},
      to: { couldNotResolve: true, pathNot: '^virtual:kiln-' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|playground/dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
