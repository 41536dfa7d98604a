/**
 * Environment-independent half of loading: SIMD detection, choosing a build, and instantiating the
 * Emscripten glue with a compiled WebAssembly.Module we supply (the glue never fetches anything).
 * The Node and browser entry points only differ in how they turn a source into a Module.
 */
import { HQQ, type HQQWasmModule } from './engine.js';
import { HQQError } from './errors.js';

/** Where the wasm binary comes from: a URL or path, its bytes, or an already compiled module. */
export type WasmSource = URL | string | ArrayBuffer | ArrayBufferView | WebAssembly.Module;

export interface LoadOptions {
  /**
   * The wasm binary, if not the one shipped next to this module (e.g. served from a CDN, or a
   * module compiled once and shared with workers). Pass the matching build: `hqq-wasm/hqq.wasm`
   * (SIMD) or `hqq-wasm/hqq-scalar.wasm`.
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

export async function compileBytes(bytes: ArrayBuffer | ArrayBufferView, what: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes as BufferSource);
  } catch (e) {
    throw new HQQError('INVALID_ARGUMENT', `${what} is not a valid WebAssembly module for this engine (${(e as Error).message}); pass the hqq-wasm binary (hqq.wasm, or hqq-scalar.wasm on engines without SIMD)`, { cause: e });
  }
}

/**
 * Builds an environment's `loadHQQ` from how it compiles a source: options are checked, the
 * shipped binary for the chosen flavour is compiled once per flavour and shared by every
 * instance, a user-supplied source is compiled as given.
 */
export function createLoader(
  compileSource: (source: WasmSource) => Promise<WebAssembly.Module>,
  shippedWasm: (flavour: 'simd' | 'scalar') => URL,
): (options?: LoadOptions) => Promise<HQQ> {
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  return async (options?: LoadOptions) => {
    const opts = checkLoadOptions(options);
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
      module = compileSource(shippedWasm(flavour));
      compiled.set(flavour, module);
      module.catch(() => compiled.delete(flavour));
    }
    return instantiate(await module);
  };
}

/** Instantiates the Emscripten glue around a compiled module. */
export async function instantiate(module: WebAssembly.Module): Promise<HQQ> {
  const { default: createHQQModule } = await import('../wasm/hqq.mjs');
  const m = await new Promise<HQQWasmModule>((resolve, reject) => {
    createHQQModule({
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(module, imports).then((instance) => receive(instance, module)).catch(
          (e: Error) => reject(new HQQError('INVALID_ARGUMENT', `the wasm module does not fit this version of hqq-wasm (${e.message}); use the .wasm file shipped with the same package version`, { cause: e })),
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
  for (const fn of ['quantize', 'unpack', 'dequantize', 'encode16', 'decode16', 'quantizeGGUF', 'dequantizeGGUF', 'kernelName', 'heapInUse'] as const) {
    if (typeof m[fn] !== 'function') {
      throw new HQQError('INVALID_ARGUMENT', `the wasm module lacks the hqq-wasm function ${fn}(): the .wasm and its JavaScript glue (hqq.mjs) come from different builds; use the files of one package version`);
    }
  }
  return new HQQ(m, module);
}
