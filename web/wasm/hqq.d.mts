// Types of the Emscripten-generated ES module (built into this folder by scripts/build.sh).
import type { HQQWasmModule } from '../src/engine.js';

export interface HQQModuleOverrides {
  instantiateWasm?(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object;
  onAbort?(what: unknown): void;
  print?(text: string): void;
  printErr?(text: string): void;
}
declare function createHQQModule(overrides?: HQQModuleOverrides): Promise<HQQWasmModule>;
export default createHQQModule;
