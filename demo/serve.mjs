#!/usr/bin/env node
// A small static server for the built demo (demo/dist): Node's http module only, correct MIME
// types (application/wasm for the quantizer), the page's Content-Security-Policy as a header, no
// caching surprises, GET/HEAD only, never outside the root. Usage:
//   node demo/serve.mjs [root=demo/dist] [--port N]   (PORT env overrides the default 5173)
// Also importable: `const { server, url } = await serve({ root, port: 0 })` (tests use port 0).
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CSP, CSP_HEADER_ONLY, cspOfHtml } from './csp.mjs';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Headers sent with every response; `csp` is the policy of the served index.html. */
export function securityHeaders(csp = CSP) {
  return {
    'Content-Security-Policy': `${csp}; ${CSP_HEADER_ONLY}`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

export async function serve({ root, port = 5173, host = '127.0.0.1', log = false } = {}) {
  const base = resolve(root);
  // The header repeats the policy of the built page's <meta> tag (one source of truth).
  const csp = cspOfHtml(await readFile(join(base, 'index.html'), 'utf8').catch(() => '')) ?? CSP;
  const server = createServer(async (req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders(csp), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    if (path.includes('\0')) return send(400, 'bad request\n');
    let file = normalize(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) return send(403, 'forbidden\n');
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        file = join(file, 'index.html');
        st = await stat(file);
      }
      const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': st.size,
        'Cache-Control': file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...securityHeaders(csp),
      });
      if (log) console.log(`${req.method} ${path} 200`);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    } catch {
      if (log) console.log(`${req.method} ${path} 404`);
      send(404, 'not found\n');
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolvePromise({ server, csp, url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${addr.port}/` });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const pi = args.indexOf('--port');
  let port = Number(process.env.PORT ?? 5173);
  if (pi >= 0) {
    port = Number(args[pi + 1]);
    args.splice(pi, 2);
  }
  const root = args[0] ?? join(dirname(fileURLToPath(import.meta.url)), 'dist');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: port ${port} is invalid`);
    process.exit(2);
  }
  try {
    await stat(join(root, 'index.html'));
  } catch {
    console.error(`serve: ${join(root, 'index.html')} does not exist; run "npm run build:demo" first`);
    process.exit(1);
  }
  serve({ root, port, log: process.env.HQQ_SERVE_LOG === '1' }).then(
    ({ url }) => console.log(`hqq-wasm demo: ${url}  (serving ${resolve(root)}; Ctrl+C to stop)`),
    (e) => {
      console.error(`serve: cannot listen on port ${port}: ${e.message}${e.code === 'EADDRINUSE' ? ' (in use: set PORT=...)' : ''}`);
      process.exit(1);
    },
  );
}
