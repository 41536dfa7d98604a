// Module worker for the browser suite: instantiates the compiled module it is sent and quantizes.
import { loadHQQ } from '/web/dist/index.js';

self.onmessage = async (e) => {
  try {
    const hqq = await loadHQQ({ wasm: e.data.module });
    const q = hqq.quantize(e.data.w, e.data.shape, e.data.options);
    self.postMessage({ flavour: hqq.flavour, packed: q.packed, meanAbs: q.stats.meanAbs });
  } catch (err) {
    self.postMessage({ error: String(err?.stack ?? err) });
  }
};
