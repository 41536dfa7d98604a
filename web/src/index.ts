/**
 * Browser / bundler entry point (package export condition "default"). Node resolves `node.ts`,
 * which has the same API.
 */
import type { HQQ } from './engine.js';
import { HQQError } from './errors.js';
import { compileBytes, createLoader, type LoadOptions, type WasmSource } from './wasm-loader.js';

export * from './common.js';

function shippedWasm(flavour: 'simd' | 'scalar'): URL {
  // Written literally so that Vite and other bundlers emit both binaries as assets.
  return flavour === 'simd' ? new URL('../wasm/hqq-simd.wasm', import.meta.url) : new URL('../wasm/hqq-scalar.wasm', import.meta.url);
}

async function compileUrl(url: URL): Promise<WebAssembly.Module> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new HQQError('IO_ERROR', `could not fetch the wasm from ${url.href} (${(e as Error).message}); serve hqq.wasm with the page or pass loadHQQ({ wasm: url })`, { cause: e });
  }
  if (!response.ok) {
    throw new HQQError('IO_ERROR', `could not fetch the wasm from ${url.href}: HTTP ${response.status}; serve hqq.wasm with the page or pass loadHQQ({ wasm: url })`);
  }
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.startsWith('application/wasm')) {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch (e) {
      throw new HQQError('INVALID_ARGUMENT', `${url.href} is not a valid hqq-wasm binary for this engine (${(e as Error).message})`, { cause: e });
    }
  }
  return compileBytes(await response.arrayBuffer(), url.href); // servers without the wasm MIME type
}

async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileBytes(source, 'the wasm bytes passed to loadHQQ');
  if (source instanceof URL) return compileUrl(source);
  if (typeof source === 'string') {
    const base = typeof location !== 'undefined' ? location.href : import.meta.url;
    return compileUrl(new URL(source, base));
  }
  throw new HQQError('INVALID_ARGUMENT', 'loadHQQ option wasm must be a URL, a URL string, bytes or a WebAssembly.Module');
}

/** Loads and instantiates the quantizer (SIMD build where the engine supports it). */
export const loadHQQ: (options?: LoadOptions) => Promise<HQQ> = createLoader(compileSource, shippedWasm);
