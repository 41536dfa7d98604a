/**
 * Node.js entry point (package export condition "node"): the same API as the browser entry, with a
 * loader that reads the wasm from disk, plus Node-only helpers.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { HQQ } from './engine.js';
import { HQQError } from './errors.js';
import { compileBytes, createLoader, type LoadOptions, type WasmSource } from './wasm-loader.js';

export * from './common.js';

function shippedWasm(flavour: 'simd' | 'scalar'): URL {
  // Literal URLs so bundlers can see (and copy) both binaries.
  return flavour === 'simd' ? new URL('../wasm/hqq-simd.wasm', import.meta.url) : new URL('../wasm/hqq-scalar.wasm', import.meta.url);
}

async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileBytes(source, 'the wasm bytes passed to loadHQQ');
  let path: string;
  if (source instanceof URL) {
    if (source.protocol !== 'file:') {
      const response = await fetch(source).catch((e: Error) => {
        throw new HQQError('IO_ERROR', `could not fetch the wasm from ${source.href}: ${e.message}`, { cause: e });
      });
      if (!response.ok) throw new HQQError('IO_ERROR', `could not fetch the wasm from ${source.href}: HTTP ${response.status}`);
      return compileBytes(await response.arrayBuffer(), source.href);
    }
    path = fileURLToPath(source);
  } else if (typeof source === 'string') {
    path = source.startsWith('file:') ? fileURLToPath(source) : source;
  } else {
    throw new HQQError('INVALID_ARGUMENT', 'loadHQQ option wasm must be a URL, a path, bytes or a WebAssembly.Module');
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new HQQError('IO_ERROR', `could not read the wasm binary ${path}: ${(e as Error).message}. If the package was built from source, run npm run build first; or pass loadHQQ({ wasm }) pointing at hqq.wasm`, { cause: e });
  }
  return compileBytes(bytes, path);
}

/** Loads and instantiates the quantizer (SIMD build where the engine supports it). */
export const loadHQQ: (options?: LoadOptions) => Promise<HQQ> = createLoader(compileSource, shippedWasm);

// Whole-model quantization on files, worker_threads pool (Node only).
export { quantizeModelFiles, inspectModelFile, dequantizeModelFile, nodeFileSink } from './node-model.js';
export type { QuantizeModelFilesOptions, QuantizeModelFilesReport, InspectReport, DequantizeFileOptions, DequantizeFileReport } from './node-model.js';
export { createNodePool, defaultNodeWorkers } from './pool/node-pool.js';
export type { NodePoolOptions } from './pool/node-pool.js';
