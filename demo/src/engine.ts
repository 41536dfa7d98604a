/** Loads the quantizer, starts the plot worker, and warms the pool worker's code into the cache. */
import { createWebPool, defaultWebWorkers, loadHQQ } from 'hqq-wasm';
import { ui } from './dom';
import { showError } from './notices';
import { initInspector } from './plots-panel';
import { app } from './state';

export async function startEngine(onChange: () => void): Promise<void> {
  try {
    const hqq = await loadHQQ();
    app.hqq = hqq;
    initInspector(hqq.module, () => {
      app.ready.inspector = true;
      onChange();
    });
    app.ready.engine = true;
    void warmUpPoolWorker(hqq.module, onChange);
    const cores = defaultWebWorkers();
    ui.workers.value = String(Math.max(1, Math.min(4, cores)));
    ui.engineStatus.textContent = `Ready · ${hqq.kernel === 'scalar' ? 'scalar' : 'SIMD'} WebAssembly · ${cores} core${cores === 1 ? '' : 's'}`;
    ui.kernelInfo.textContent = `kernel: ${hqq.kernel}`;
  } catch (e) {
    ui.engineStatus.textContent = 'The quantizer could not be loaded.';
    showError(e, 'Loading the WebAssembly module');
  }
  onChange();
}

/**
 * Starts one pool worker while the page loads and quantizes a tiny tensor on it, then stops it: the
 * worker's code is then in the browser's cache, so the workers of later runs (started anew for every
 * run, and stopped by Cancel) load without any network request.
 */
async function warmUpPoolWorker(module: WebAssembly.Module, onChange: () => void): Promise<void> {
  const pool = createWebPool({ size: 1, module });
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the quantization worker did not start within 30 s')), 30_000);
    });
    const task = pool.run({
      kind: 'hqq', name: 'warm-up', dtype: 'F32', shape: [2, 64], data: new Float32Array(128).fill(0.5).buffer, options: { nbits: 4, groupSize: 64 }, computeDtype: 'float32',
    });
    await Promise.race([task, timeout]).finally(() => clearTimeout(timer));
  } catch (e) {
    showError(e, 'Starting a quantization worker');
  } finally {
    await pool.terminate();
    app.ready.pool = true;
    onChange();
  }
}
