// Mutation fuzzing of the GGUF reader: byte flips, truncations, rewritten length/count fields,
// inserted and deleted bytes in valid files must give either a header or a BAD_FILE HQQError,
// never another exception (RangeError, TypeError...), a hang or a crash. Deterministic seeds.
import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { ggufValue, openGGUF, parseGGUFHeader, planGGUF, type GGUFHeader } from '../../../web/src/io/gguf.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { referenceFile } from './gguf-corpus.js';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXTREMES = [0n, 1n, 2n, 3n, 4n, 7n, 8n, 9n, 12n, 13n, 31n, 32n, 33n, 63n, 64n, 255n, 256n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

function plannedFile(): Uint8Array {
  const plan = planGGUF({
    metadata: [
      ['general.architecture', ggufValue.string('llama')],
      ['llama.block_count', ggufValue.u32(2)],
      ['general.alignment', ggufValue.u32(64)],
      ['t.i64', ggufValue.i64(-3n)],
      ['t.bools', ggufValue.bools([true, false])],
      ['tokenizer.ggml.tokens', ggufValue.strings(['<s>', '</s>', '▁a', 'é'])],
      ['tokenizer.ggml.token_type', ggufValue.numbers('i32', [3, 3, 1, 1])],
      ['x.nested', ggufValue.arrays([ggufValue.numbers('f64', [1.5]), ggufValue.strings(['q'])])],
    ],
    tensors: [
      { name: 'token_embd.weight', type: 'Q4_K', ne: [256, 2] },
      { name: 'blk.0.attn_norm.weight', type: 'F32', ne: [256] },
      { name: 'blk.0.ffn_down.weight', type: 'Q8_0', ne: [64, 3, 1] },
    ],
  });
  const file = new Uint8Array(plan.totalSize);
  file.set(plan.headerBytes);
  for (let i = plan.dataOffset; i < file.length; i++) file[i] = (i * 13) & 0xff;
  return file;
}

/** A mutated copy of `file` (whose header ends at `headerEnd`). */
function mutate(file: Uint8Array, headerEnd: number, r: () => number): Uint8Array {
  const out = file.slice();
  switch (Math.floor(r() * 6)) {
    case 0: // flip a few header bits
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) out[Math.floor(r() * headerEnd)] ^= 1 << Math.floor(r() * 8);
      return out;
    case 1: // truncate anywhere
      return out.slice(0, Math.floor(r() * file.length));
    case 2: { // overwrite a u64 at a random header position with an extreme value
      const pos = Math.floor(r() * Math.max(1, headerEnd - 8));
      new DataView(out.buffer).setBigUint64(pos, EXTREMES[Math.floor(r() * EXTREMES.length)]!, true);
      return out;
    }
    case 3: { // overwrite a u32
      const pos = Math.floor(r() * Math.max(1, headerEnd - 4));
      new DataView(out.buffer).setUint32(pos, Number(EXTREMES[Math.floor(r() * EXTREMES.length)]! & 0xffffffffn), true);
      return out;
    }
    case 4: { // insert bytes into the header
      const pos = Math.floor(r() * headerEnd);
      const ins = Uint8Array.from({ length: 1 + Math.floor(r() * 9) }, () => Math.floor(r() * 256));
      const res = new Uint8Array(out.length + ins.length);
      res.set(out.subarray(0, pos));
      res.set(ins, pos);
      res.set(out.subarray(pos), pos + ins.length);
      return res;
    }
    default: { // delete bytes from the header
      const pos = Math.floor(r() * headerEnd);
      const n = 1 + Math.floor(r() * 9);
      return cat2(out.subarray(0, pos), out.subarray(Math.min(out.length, pos + n)));
    }
  }
}

function cat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function expectBadFile(e: unknown, what: string) {
  if (!(e instanceof HQQError) || e.code !== 'BAD_FILE') {
    throw new Error(`${what}: unexpected ${e instanceof HQQError ? `HQQError ${e.code}` : String(e)}: ${(e as Error)?.message}`);
  }
}

/** Invariants every accepted header satisfies. */
function checkHeader(h: GGUFHeader) {
  const sorted = [...h.tensors].sort((a, b) => a.begin - b.begin);
  for (const t of h.tensors) {
    expect(t.begin).toBeGreaterThanOrEqual(h.dataOffset);
    expect(t.end).toBeLessThanOrEqual(h.fileSize);
    expect(t.end - t.begin).toBe(t.byteLength);
    expect((t.begin - h.dataOffset) % h.alignment).toBe(0);
  }
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.begin).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
}

describe('mutation fuzzing of the GGUF reader', () => {
  for (const [label, file, seed] of [['the reference file', referenceFile(), 20261202], ['a planned file', plannedFile(), 99]] as const) {
    it(`${label}: 4000 mutants are each accepted or BAD_FILE`, () => {
      const h0 = parseGGUFHeader(file, file.length, 'orig.gguf');
      const r = rng(seed);
      let accepted = 0;
      let rejected = 0;
      for (let i = 0; i < 4000; i++) {
        const m = mutate(file, h0.headerLength, r);
        try {
          checkHeader(parseGGUFHeader(m, m.length, `mutant-${i}.gguf`));
          accepted++;
        } catch (e) {
          expectBadFile(e, `mutant ${i}`);
          rejected++;
        }
      }
      expect(accepted + rejected).toBe(4000);
      expect(rejected).toBeGreaterThan(2000);
      expect(accepted).toBeGreaterThan(50);
    });
  }

  it('the incremental reader agrees with the byte parser on 300 mutants', async () => {
    const file = plannedFile();
    const h0 = parseGGUFHeader(file, file.length, 'orig.gguf');
    const r = rng(5);
    for (let i = 0; i < 300; i++) {
      const m = mutate(file, h0.headerLength, r);
      let viaBytes: unknown;
      try {
        viaBytes = parseGGUFHeader(m, m.length, 'm.gguf');
      } catch (e) {
        expectBadFile(e, `mutant ${i}`);
        viaBytes = (e as Error).message;
      }
      let viaSource: unknown;
      try {
        viaSource = (await openGGUF(bytesSource(m, 'm.gguf'))).header;
      } catch (e) {
        expectBadFile(e, `mutant ${i}`);
        viaSource = (e as Error).message;
      }
      expect(viaSource).toEqual(viaBytes);
    }
  });
});
