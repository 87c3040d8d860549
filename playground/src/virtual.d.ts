// The modules playground/serve.mjs generates for the bundle.

declare module 'virtual:kiln-grammar' {
  /** dsl/kiln.ohm */
  const grammar: string;
  export default grammar;
}

declare module 'virtual:kiln-examples' {
  /** examples/*.kiln by name (without the extension). */
  const examples: Readonly<Record<string, string>>;
  export default examples;
}

declare module '*.css' {
  /** The stylesheet's text (esbuild's text loader). */
  const css: string;
  export default css;
}
