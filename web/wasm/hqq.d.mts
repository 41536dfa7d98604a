// Types of the Emscripten-generated ES module (built into this folder by scripts/build.sh). The
// module object is described structurally here; web/src/engine.ts (HQQWasmModule) is the contract.
export interface HQQModuleOverrides {
  instantiateWasm?(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object;
  onAbort?(what: unknown): void;
  print?(text: string): void;
  printErr?(text: string): void;
}
declare function createHQQModule(overrides?: HQQModuleOverrides): Promise<any>;
export default createHQQModule;
