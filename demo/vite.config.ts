import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
// @ts-expect-error plain ES module without types
import { CSP, CSP_META_RE, demoCsp, glueNeedsEval, protobufNeedsEval } from './csp.mjs';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * index.html carries the CSP in a <meta> tag; the build checks it is the policy of demo/csp.mjs
 * (serve.mjs sends the built page's policy as a header). If the package's Emscripten glue still
 * evaluates strings (Embind without -sDYNAMIC_EXECUTION=0) the page cannot load the quantizer
 * without 'unsafe-eval': the build then adds it, loudly. The same for the package's protobufjs
 * (ONNX input), whose reflection compiles decoders with `Function(...)`. The dev server drops the
 * tag (Vite's dev client injects inline styles).
 */
function cspMeta(): Plugin {
  return {
    name: 'hqq-demo-csp',
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        const m = CSP_META_RE.exec(html);
        if (!m) throw new Error('demo/index.html: the Content-Security-Policy <meta> tag is missing');
        if (ctx.server) return html.replace(CSP_META_RE, '');
        if (m[1] !== CSP) throw new Error(`demo/index.html: the CSP <meta> differs from demo/csp.mjs:\n  meta: ${m[1]}\n  csp.mjs: ${CSP}`);
        const glue = readFileSync(here('../web/wasm/hqq.mjs'), 'utf8');
        const protobuf = readFileSync(here('../web/dist/io/onnx/protobuf.js'), 'utf8');
        if (!glueNeedsEval(glue) && !protobufNeedsEval(protobuf)) return html;
        if (glueNeedsEval(glue)) {
          console.warn(
            "\nWARNING: web/wasm/hqq.mjs builds Embind functions with `new Function`; the demo's CSP gets 'unsafe-eval' so that it can load.\n" +
              '         Link the wasm module with -sDYNAMIC_EXECUTION=0 (cmake/wasm-module.cmake) to drop it.\n',
          );
        }
        if (protobufNeedsEval(protobuf)) {
          console.warn(
            "\nWARNING: web/dist/io/onnx/protobuf.js (protobufjs reflection) compiles its ONNX decoders with `Function(...)`; the demo's CSP gets\n" +
              "         'unsafe-eval' so that ONNX models can be read. Static protobufjs decoders in the package would drop it.\n",
          );
        }
        return html.replace(CSP_META_RE, (tag: string) => tag.replace(m[1]!, demoCsp({ unsafeEval: true })));
      },
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: './', // works from any static host and sub-path
  publicDir: 'public',
  plugins: [cspMeta()],
  // No alias and no optimizeDeps setting: the demo imports 'hqq-wasm' by name (the repository's own
  // package, through its package.json exports) exactly as an app that installed it does.
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false }, // no inline script: the CSP allows none
    assetsInlineLimit: 0, // keep the wasm as files
    chunkSizeWarningLimit: 1000,
  },
  server: { fs: { allow: [here('..')] } },
});
