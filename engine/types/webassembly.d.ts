// Node 20's global WebAssembly object, as far as src/wasm-engine.js uses it. TypeScript declares
// WebAssembly only in its browser libraries (lib.dom, lib.webworker) and @types/node 20 not at all;
// pulling in lib.dom would also declare window, document and the other browser globals Node lacks.
declare namespace WebAssembly {
  interface Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  type Imports = Record<string, Record<string, unknown>>;
  class RuntimeError extends Error {}
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
