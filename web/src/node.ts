/**
 * The Node.js entry point, `hqq-wasm/node` (and `hqq-wasm` under the "node" export condition):
 * everything the browser entry exports, with a loader that reads the wasm from disk, plus the
 * Node-only helpers (files, worker_threads pool).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { shippedWasmUrl } from '../wasm/assets.mjs';
import type { HQQ } from './engine.js';
import { HQQError } from './errors.js';
import { compileBytes, createLoader, type LoadOptions, type WasmSource } from './wasm-loader.js';

export * from './common.js';

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

/**
 * Loads and instantiates the quantizer: the SIMD build where the engine supports it, the scalar
 * build otherwise (or as `options` say). `wasm` may also be a file path. The compiled module is
 * cached per build. Rejects with HQQError: UNSUPPORTED, IO_ERROR (the file could not be read: the
 * message names it), INVALID_ARGUMENT (bad options, not an hqq-wasm binary), OUT_OF_MEMORY.
 */
export const loadHQQ: (options?: LoadOptions) => Promise<HQQ> = createLoader(compileSource, (flavour) => compileSource(shippedWasmUrl(flavour)));

// Whole-model quantization on files, worker_threads pool (Node only).
export { quantizeModelFiles, inspectModelFile, dequantizeModelFile, nodeFileSink } from './node-model.js';
export type { QuantizeModelFilesOptions, QuantizeModelFilesReport, InspectReport, DequantizeFileOptions, DequantizeFileReport } from './node-model.js';
export { mergeParts, type MergeReport } from './node-merge.js';
export { createNodePool, defaultNodeWorkers } from './pool/node-pool.js';
export type { NodePoolOptions } from './pool/node-pool.js';
// Reading files on disk lazily (a ByteSource for openSafetensors / quantizeModel).
export { openFileSource } from './io/node-file.js';
export type { FileSource } from './io/node-file.js';
