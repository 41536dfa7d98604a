import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, defineConfig, type Plugin } from 'vite';
// @ts-expect-error plain ES module without types
import { CSP, CSP_META_RE, demoCsp, glueNeedsEval } from './csp.mjs';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const dist = here('../web/dist');

/**
 * index.html carries the CSP in a <meta> tag; the build checks it is the policy of demo/csp.mjs
 * (serve.mjs sends the built page's policy as a header). If the package's Emscripten glue still
 * evaluates strings (Embind without -sDYNAMIC_EXECUTION=0) the page cannot load the quantizer
 * without 'unsafe-eval': the build then adds it, loudly. The dev server drops the tag (Vite's dev
 * client injects inline styles).
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
        if (!glueNeedsEval(glue)) return html;
        console.warn(
          "\nWARNING: web/wasm/hqq.mjs builds Embind functions with `new Function`; the demo's CSP gets 'unsafe-eval' so that it can load.\n" +
            '         Link the wasm module with -sDYNAMIC_EXECUTION=0 (cmake/wasm-module.cmake) to drop it.\n',
        );
        return html.replace(CSP_META_RE, (tag: string) => tag.replace(m[1]!, demoCsp({ unsafeEval: true })));
      },
    },
  };
}

// The Emscripten glue computes a default `new URL("hqq.wasm", import.meta.url)` that the package
// never uses (it hands the glue a compiled module); Vite warns that the file does not exist.
const logger = createLogger('warn');
const unused = (msg: string) => msg.includes('new URL("hqq.wasm"');
const warn = logger.warn.bind(logger);
const warnOnce = logger.warnOnce.bind(logger);
logger.warn = (msg, options) => void (unused(msg) || warn(msg, options));
logger.warnOnce = (msg, options) => void (unused(msg) || warnOnce(msg, options));

export default defineConfig({
  customLogger: logger,
  root: here('.'),
  base: './', // works from any static host and sub-path
  publicDir: 'public',
  plugins: [cspMeta()],
  resolve: {
    // The demo consumes the built package (web/dist, produced by scripts/build.sh) like an app would.
    alias: [
      { find: /^hqq-wasm$/, replacement: `${dist}/index.js` },
      { find: /^hqq-wasm\/(.*)$/, replacement: `${dist}/$1` },
    ],
  },
  // Pre-bundling would move the package away from its wasm files: keep it out.
  optimizeDeps: { exclude: ['hqq-wasm'] },
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
