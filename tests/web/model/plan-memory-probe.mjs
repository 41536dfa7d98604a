// Child process of plan-memory.test.ts (run with --expose-gc): plans a safetensors header listing N
// tiny tensors (the case of finding 16) from web/dist and prints, as JSON, the heap retained per
// tensor after a full GC by each stage: the open input (header parse + input tensors), the plan,
// and the dry-run reports. Heap bytes after gc() are deterministic enough to bound; no timing.
const [root, nArg] = process.argv.slice(2);
const n = Number(nArg);
const { bytesSource } = await import(`${root}/web/dist/io/source.js`);
const { openModelInput } = await import(`${root}/web/dist/model/input.js`);
const { createFormat } = await import(`${root}/web/dist/formats/registry.js`);
const { plannedReport } = await import(`${root}/web/dist/model/report.js`);

function headerFile(count) {
  const parts = [];
  for (let i = 0; i < count; i++) parts.push(`"t${i}":{"dtype":"F16","shape":[1],"data_offsets":[${2 * i},${2 * i + 2}]}`);
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const len = Math.ceil(json.length / 8) * 8;
  const file = new Uint8Array(8 + len + 2 * count).fill(0x20);
  new DataView(file.buffer).setBigUint64(0, BigInt(len), true);
  file.set(json, 8);
  return file;
}

const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const source = bytesSource(headerFile(n), 'many.safetensors');
const h0 = heap();
const input = await openModelInput({ sources: [source] });
const h1 = heap();
const plan = createFormat({}, input).plan(input);
const h2 = heap();
const reports = plan.tensors.map(plannedReport);
const h3 = heap();
const perTensor = (a, b) => Math.round((b - a) / n);
console.log(JSON.stringify({
  tensors: plan.tensors.length, reportCount: reports.length,
  input: perTensor(h0, h1), plan: perTensor(h1, h2), reports: perTensor(h2, h3), total: perTensor(h0, h3),
}));
await input.close();
