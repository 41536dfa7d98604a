// The GGUF output format through the orchestrator: a GGUF in, a GGUF out, with llama-quantize's
// tensor types, the metadata kept (file type and quantization version updated), conversions and
// copies byte-exact, tensors split into row ranges. Quantized types are tested in tests/runtimes.
import { describe, expect, it } from 'vitest';
import { openGGUF } from '../../../web/src/io/gguf-reader.js';
import { memorySink } from '../../../web/src/io/browser-sink.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { TEST_HOOKS, planModelInput, quantizeModel } from '../../../web/src/model/quantize-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { buildTinyLlama, TINY_LLAMA } from '../../runtimes/tiny-llama.js';
import { rejectsWithHQQError } from '../helpers.js';

const model = buildTinyLlama();
const source = () => bytesSource(model.bytes, 'tiny-f32.gguf');

describe('GGUF output format', () => {
  it('a dry run chooses llama-quantize types (Q4_K_M: Q6_K output and bumped attn_v/ffn_down) and updates the file type', async () => {
    const r = await quantizeModel({ sources: [source()] }, undefined, { dryRun: true, gguf: { preset: 'Q4_K_M' } });
    expect(r.format).toBe('gguf');
    const type = Object.fromEntries(r.tensors.map((t) => [t.name, t.label]));
    expect(type['output.weight']).toBe('Q6_K');
    expect(type['blk.0.attn_q.weight']).toBe('Q4_K');
    expect(type['blk.0.attn_norm.weight']).toBe('F32');
    expect(['Q4_K', 'Q6_K']).toContain(type['blk.0.attn_v.weight']);
    expect(r.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.action).toBe('copy');
    expect(r.config).toMatchObject({ preset: 'Q4_K_M', file_type: 15 });
    expect(r.totals.quantized).toBeGreaterThan(0);
    expect(r.totals.bitsPerWeight).toBeGreaterThan(4.5);
    expect(r.totals.bitsPerWeight).toBeLessThan(6.6);
  });

  it('conversions go through workers in row ranges; metadata and tokenizer are kept, types and file type updated', async () => {
    const hqq = await loadHQQ();
    const sink = memorySink();
    const r = await quantizeModel({ sources: [source()], outputFileName: 'tiny-f16.gguf' }, sink, {
      gguf: { preset: 'Q8_0', pure: true, tensorTypes: ['.*=f16'] }, workers: 1, createPool: () => createInlinePool(hqq),
      [TEST_HOOKS]: { maxJobWeights: 3000 }, // 256-wide rows: 11 rows per job, so every matrix is split
    } as Parameters<typeof quantizeModel>[2]);
    expect(r.tensors.filter((t) => t.action === 'convert').length).toBe(TINY_LLAMA.layers * 7 + 2);
    const planned = await planModelInput({ sources: [source()] }, { gguf: { preset: 'Q8_0', pure: true, tensorTypes: ['.*=f16'] }, [TEST_HOOKS]: { maxJobWeights: 3000 } } as Parameters<typeof planModelInput>[1]);
    const down = planned.plan.tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!;
    await planned.close();
    expect(down.jobs.length).toBe(Math.ceil(256 / Math.floor(3000 / 512))); // rows of 512 weights, 5 per job
    const [out] = sink.files();
    expect(out!.fileName).toBe('tiny-f16.gguf');
    const f = await openGGUF(bytesSource(new Uint8Array(await out!.blob!.arrayBuffer()), out!.fileName));
    const inF = await openGGUF(source());
    try {
      const meta = f.header.metadata;
      expect(meta.get('general.file_type')).toEqual({ type: 'u32', value: 7 });
      expect(meta.get('general.quantization_version')).toEqual({ type: 'u32', value: 2 });
      expect([...meta.get('tokenizer.ggml.tokens')!.type === 'array' ? (meta.get('tokenizer.ggml.tokens') as { items: Iterable<string> }).items : []]).toEqual(model.vocab.tokens);
      for (const [k, v] of inF.header.metadata) if (!k.startsWith('general.file_type')) expect(meta.has(k), k).toBe(true);
      const q = f.tensor('blk.1.ffn_down.weight')!;
      expect(q.type).toBe('F16');
      const bits = new Uint16Array((await f.readTensor(q)).slice().buffer);
      const restored = hqq.decode16(bits, 'f16');
      const want = model.weights.get('blk.1.ffn_down.weight')!;
      const f16 = hqq.decode16(hqq.encode16(want, 'f16'), 'f16');
      expect(restored).toEqual(f16);
      const norm = f.tensor('output_norm.weight')!;
      expect(norm.type).toBe('F32');
      expect(new Float32Array((await f.readTensor(norm)).slice().buffer)).toEqual(model.weights.get('output_norm.weight'));
    } finally {
      await f.close();
      await inF.close();
    }
  });

  it('refuses HQQ options with a GGUF output, and GGUF options with an HQQ output', async () => {
    expect((await rejectsWithHQQError(quantizeModel({ sources: [source()] }, undefined, { dryRun: true, nbits: 4 }))).message).toMatch(/nbits is an HQQ option/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [source()] }, undefined, { dryRun: true, format: 'hqq', gguf: {} }))).message).toMatch(/output format is hqq/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [source()] }, undefined, { dryRun: true, gguf: { preset: 'Q9_K' } }))).message).toMatch(/not a GGUF preset/);
  });
});
