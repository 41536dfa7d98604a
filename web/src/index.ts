/**
 * The browser / bundler entry point, `hqq-wasm` (package export condition "default"). Node
 * resolves `node.ts` instead, which has the same API plus file-based helpers.
 *
 * The wasm binaries are found through web/wasm/assets.mjs, whose literal module-relative URLs
 * bundlers follow and rewrite.
 */
import { shippedWasmUrl } from '../wasm/assets.mjs';
import type { HQQ } from './engine.js';
import { missingAssetFix } from './bundling.js';
import { HQQError } from './errors.js';
import { compileBytes, compileError, createLoader, requireWebAssembly, type LoadOptions, type WasmSource } from './wasm-loader.js';

export * from './common.js';

async function fetchWasm(url: URL, shipped: boolean): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    const why = (e as Error).message;
    throw new HQQError('IO_ERROR', `could not fetch the wasm binary ${url.href} (${why}): a Content-Security-Policy connect-src that leaves it out, a cross-origin URL without CORS headers, or the network; allow it in connect-src or serve it from the page's origin${shipped ? '' : ', or pass another loadHQQ({ wasm })'}`, { cause: e });
  }
  if (!response.ok) {
    const fix = shipped ? missingAssetFix(url, 'loadHQQ({ wasm })') : 'check the URL given as loadHQQ({ wasm })';
    throw new HQQError('IO_ERROR', `could not fetch the wasm binary ${url.href}: HTTP ${response.status}; ${fix}`);
  }
  return response;
}

async function compileUrl(url: URL, shipped: boolean): Promise<WebAssembly.Module> {
  requireWebAssembly();
  const response = await fetchWasm(url, shipped);
  const type = response.headers.get('content-type') ?? '';
  if (typeof WebAssembly.compileStreaming === 'function' && type.startsWith('application/wasm')) {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch (e) {
      throw compileError(e, url.href);
    }
  }
  // Served without the wasm MIME type: compile from bytes (slower to start, same result). Bytes that
  // are not wasm at all (an HTML fallback page for a missing file) get a message naming the type.
  const bytes = new Uint8Array(await response.arrayBuffer());
  return compileBytes(bytes, `${url.href} (served as ${type ? JSON.stringify(type) : 'no content type'}, expected "application/wasm")`);
}

async function compileSource(source: WasmSource, shipped = false): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileBytes(source, 'the wasm bytes passed to loadHQQ');
  if (source instanceof URL) return compileUrl(source, shipped);
  if (typeof source === 'string') {
    const base = typeof location !== 'undefined' ? location.href : import.meta.url;
    return compileUrl(new URL(source, base), shipped);
  }
  throw new HQQError('INVALID_ARGUMENT', 'loadHQQ option wasm must be a URL, a URL string, bytes or a WebAssembly.Module');
}

/**
 * Loads and instantiates the quantizer: the SIMD build where the engine supports it, the scalar
 * build otherwise (or as `options` say). The compiled module is cached per build, so later calls
 * only instantiate. Rejects with HQQError: UNSUPPORTED (no WebAssembly, a CSP without
 * 'wasm-unsafe-eval', `simd: true` without SIMD), IO_ERROR (the binary could not be fetched: the
 * message names the URL and the fix), INVALID_ARGUMENT (bad options, not an hqq-wasm binary),
 * OUT_OF_MEMORY.
 */
export const loadHQQ: (options?: LoadOptions) => Promise<HQQ> = createLoader(compileSource, (flavour) => compileSource(shippedWasmUrl(flavour), true));
