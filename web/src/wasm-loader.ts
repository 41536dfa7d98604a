/**
 * Environment-independent half of loading: feature detection (WebAssembly, SIMD, a CSP that blocks
 * compilation), choosing a build, and instantiating the Emscripten glue with a compiled
 * WebAssembly.Module we supply (the glue never fetches anything: the build removes its default wasm
 * URL). The Node and browser entry points only differ in how they turn a source into a Module.
 * Every failure names what failed and the way out.
 */
// Static import: bundlers keep the glue in the same chunk (a dynamic import() would become a
// separate chunk, which some bundlers cannot load inside a module worker).
import createHQQModule from '../wasm/hqq.mjs';
import { HQQ, type HQQWasmModule } from './engine.js';
import { HQQError } from './errors.js';

/** Where the wasm binary comes from: a URL or path, its bytes, or an already compiled module. */
export type WasmSource = URL | string | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

/** Options of `loadHQQ`. */
export interface LoadOptions {
  /**
   * The wasm binary, if not the one shipped with the package (e.g. served from a CDN, or a module
   * compiled once and shared with workers). Pass the matching build: `hqq-wasm/hqq.wasm` (SIMD) or
   * `hqq-wasm/hqq-scalar.wasm` (engines without SIMD; `simdSupported()` tells which).
   */
  wasm?: WasmSource;
  /** true: require the SIMD build; false: use the scalar build; omitted: SIMD when supported. */
  simd?: boolean;
}

// (module (func (result v128) (i32x4.splat (i32.const 0)))): valid only where SIMD128 is supported.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x11, 0x0b, // code: i32.const 0; i32x4.splat; end
]);

// (module): the smallest valid module. Compiling it fails only where compilation itself is refused
// (a Content-Security-Policy without 'wasm-unsafe-eval', or WebAssembly switched off).
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** Whether this JavaScript engine supports WebAssembly SIMD128. */
export function simdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The build to load for `options.simd` on this engine. */
export function chooseFlavour(simd: boolean | undefined): 'simd' | 'scalar' {
  if (simd !== undefined && typeof simd !== 'boolean') {
    throw new HQQError('INVALID_ARGUMENT', `loadHQQ option simd must be true, false or omitted, got ${String(simd)}`);
  }
  const supported = simdSupported();
  if (simd === true && !supported) {
    throw new HQQError('UNSUPPORTED', 'this JavaScript engine does not support WebAssembly SIMD; call loadHQQ({ simd: false }) or omit the option to fall back to the scalar build');
  }
  if (simd === false) return 'scalar';
  return supported ? 'simd' : 'scalar';
}

export function checkLoadOptions(options: unknown): LoadOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new HQQError('INVALID_ARGUMENT', `loadHQQ options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'wasm' && key !== 'simd') {
      throw new HQQError('INVALID_ARGUMENT', `unknown loadHQQ option "${key}"; known options: wasm, simd`);
    }
  }
  return options as LoadOptions;
}

/** Throws UNSUPPORTED where this engine has no WebAssembly at all. */
export function requireWebAssembly(): void {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.compile !== 'function') {
    throw new HQQError('UNSUPPORTED', 'WebAssembly is not available in this JavaScript engine (switched off by the browser, e.g. a lockdown or "JIT-less" mode, or by a --jitless flag); hqq-wasm needs it: enable WebAssembly or use another engine');
  }
}

/** Whether this engine refuses to compile any WebAssembly (CSP without 'wasm-unsafe-eval'). */
function compilationRefused(): boolean {
  try {
    new WebAssembly.Module(EMPTY_MODULE);
    return false;
  } catch {
    return true;
  }
}

function startsWithWasmMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
}

/** A printable glimpse of bytes that are not wasm (an HTML error page, a JSON error...). */
function glimpse(bytes: Uint8Array): string {
  const head = Array.from(bytes.subarray(0, 40), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return JSON.stringify(head);
}

function asBytes(bytes: ArrayBuffer | ArrayBufferView): Uint8Array {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The HQQError for a failed compilation of `what`, with the cause found by probing: a CSP that
 * refuses all compilation, bytes that are not wasm at all (`bytes`, when known), the SIMD build on
 * an engine without SIMD, or a binary this engine rejects.
 */
export function compileError(e: unknown, what: string, bytes?: Uint8Array): HQQError {
  const detail = e instanceof Error ? e.message : String(e);
  if (compilationRefused() || /Content.Security.Policy|wasm-unsafe-eval|unsafe-eval/i.test(detail)) {
    return new HQQError('UNSUPPORTED', `the page's Content-Security-Policy does not allow WebAssembly, so ${what} cannot be compiled: add 'wasm-unsafe-eval' to script-src (e.g. script-src 'self' 'wasm-unsafe-eval'), in the Content-Security-Policy header or <meta> tag (${detail})`, { cause: e });
  }
  if (bytes && !startsWithWasmMagic(bytes)) {
    return new HQQError('INVALID_ARGUMENT', `${what} is not a valid WebAssembly module: it starts with ${glimpse(bytes)} instead of the wasm magic "\\0asm" (an error or fallback page served instead of the file?); pass the hqq-wasm binary (hqq.wasm, or hqq-scalar.wasm on engines without SIMD)`, { cause: e });
  }
  if (!simdSupported()) {
    return new HQQError('UNSUPPORTED', `${what} could not be compiled and this engine has no WebAssembly SIMD (${detail}): if it is the SIMD build (hqq.wasm, hqq-simd.wasm), use hqq-scalar.wasm, or omit loadHQQ's wasm option and the scalar build is chosen for you`, { cause: e });
  }
  return new HQQError('INVALID_ARGUMENT', `${what} is not a valid WebAssembly module for this engine (${detail}); pass the hqq-wasm binary (hqq.wasm, or hqq-scalar.wasm on engines without SIMD)`, { cause: e });
}

export async function compileBytes(bytes: ArrayBuffer | ArrayBufferView, what: string): Promise<WebAssembly.Module> {
  requireWebAssembly();
  try {
    return await WebAssembly.compile(bytes as BufferSource);
  } catch (e) {
    throw compileError(e, what, asBytes(bytes));
  }
}

/**
 * Builds an environment's `loadHQQ` from how it compiles a user-given source and the shipped
 * binary of a flavour: options are checked, the shipped binary is compiled once per flavour and
 * shared by every instance (a failed compilation is retried next time), a user-supplied source is
 * compiled as given.
 */
export function createLoader(
  compileSource: (source: WasmSource) => Promise<WebAssembly.Module>,
  compileShipped: (flavour: 'simd' | 'scalar') => Promise<WebAssembly.Module>,
): (options?: LoadOptions) => Promise<HQQ> {
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  return async (options?: LoadOptions) => {
    const opts = checkLoadOptions(options);
    requireWebAssembly();
    if (opts.wasm !== undefined) {
      const hqq = await instantiate(await compileSource(opts.wasm));
      if (opts.simd !== undefined && opts.simd !== (hqq.flavour === 'simd')) {
        throw new HQQError('INVALID_ARGUMENT', `loadHQQ({ simd: ${opts.simd} }) was given the ${hqq.flavour} build as wasm; pass ${opts.simd ? 'hqq.wasm (SIMD)' : 'hqq-scalar.wasm'} or omit simd`);
      }
      return hqq;
    }
    const flavour = chooseFlavour(opts.simd);
    let module = compiled.get(flavour);
    if (!module) {
      module = compileShipped(flavour);
      compiled.set(flavour, module);
      module.catch(() => compiled.delete(flavour));
    }
    return instantiate(await module);
  };
}

/** Why `WebAssembly.instantiate` failed: memory for the instance, a CSP, or a foreign module. */
function instantiateError(e: unknown): HQQError {
  const detail = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError || /out of memory|cannot allocate|could not allocate/i.test(detail)) {
    return new HQQError('OUT_OF_MEMORY', `could not allocate the memory of a new wasm instance (32 MiB to start, growing with the tensors): this tab or process is out of memory or address space (${detail}); close other tabs, use fewer workers (createWebPool({ size }) / workers), or reuse one instance`, { cause: e });
  }
  if (compilationRefused()) return compileError(e, 'the wasm module');
  return new HQQError('INVALID_ARGUMENT', `the wasm module does not fit this version of hqq-wasm (${detail}); use the .wasm file shipped with the same package version`, { cause: e });
}

/** Instantiates the Emscripten glue around a compiled module. */
export async function instantiate(module: WebAssembly.Module): Promise<HQQ> {
  const m = await new Promise<HQQWasmModule>((resolve, reject) => {
    createHQQModule({
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(module, imports).then((instance) => receive(instance, module)).catch(
          (e: unknown) => reject(instantiateError(e)),
        );
        return {};
      },
      onAbort(what) {
        reject(new HQQError('INTERNAL', `the wasm module aborted while starting: ${String(what)}`));
      },
      // The core prints nothing; anything printed is a diagnostic worth seeing.
      print: (t: string) => console.log(`[hqq-wasm] ${t}`),
      printErr: (t: string) => console.error(`[hqq-wasm] ${t}`),
    }).then(resolve, reject);
  });
  for (const fn of ['quantize', 'unpack', 'dequantize', 'encode16', 'decode16', 'quantizeGGUF', 'dequantizeGGUF', 'quantizeNBits', 'dequantizeNBits', 'kernelName', 'heapInUse'] as const) {
    if (typeof m[fn] !== 'function') {
      throw new HQQError('INVALID_ARGUMENT', `the wasm module lacks the hqq-wasm function ${fn}(): the .wasm and its JavaScript glue (hqq.mjs) come from different builds; use the files of one package version`);
    }
  }
  return new HQQ(m, module);
}
