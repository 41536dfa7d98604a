/**
 * What to tell a user whose bundler did not emit one of the package's runtime files (the wasm
 * binaries, the pool's worker script). Browser-safe. See docs/bundlers.md.
 */

/** The name of the file at `url` (its last path segment). */
export function fileNameOf(url: URL): string {
  return url.pathname.slice(url.pathname.lastIndexOf('/') + 1) || url.href;
}

/**
 * The fix when a shipped file is not where the bundle looks for it: which bundlers cause this, the
 * one-line copy that fixes it, and the option that points elsewhere.
 */
export function missingAssetFix(url: URL, option: string): string {
  const folder = new URL('./', url).href;
  return `your bundler did not emit hqq-wasm's ${fileNameOf(url)} (esbuild, and Rollup without an import-meta-assets plugin, do not copy files named by new URL(..., import.meta.url)). ` +
    `Copy the package's runtime files next to your bundle, so that ${folder} serves them: ` +
    `cp node_modules/hqq-wasm/web/wasm/*.wasm node_modules/hqq-wasm/web/wasm/hqq-worker.js <your bundle's folder>/; ` +
    `or pass ${option} with the file's URL. Recipes per bundler: docs/bundlers.md in the hqq-wasm package`;
}
