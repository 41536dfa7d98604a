// Mutation fuzzing of everything that reads files: random byte flips, truncations and header
// rewrites of a valid quantized model must give either a result or an HQQError with a file code
// (BAD_FILE / IO_ERROR), never another exception, a hang or a crash. Deterministic (fixed seeds).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import { readHQQLayers } from '../../../web/src/model/hqqlinear.js';
import { openSafetensors } from '../../../web/src/io/safetensors.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { dequantizeModelFile } from '../../../web/src/node-model.js';

const REFERENCE = resolve(__dirname, '../../../../shared/testdata/hqq-ref/hqqlinear/normal_256x512_4bit_g64_axis1_fp16.safetensors');
const dir = mkdtempSync(join(tmpdir(), 'hqq-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A mutated copy of `file`: flipped bytes (mostly in the header), a cut, or a rewritten number. */
function mutate(file: Uint8Array, r: () => number): Uint8Array {
  const headerEnd = 8 + Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const out = file.slice();
  switch (Math.floor(r() * 5)) {
    case 0: // flip a few header bytes
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) out[Math.floor(r() * headerEnd)] ^= 1 << Math.floor(r() * 8);
      return out;
    case 1: // truncate anywhere
      return out.slice(0, Math.floor(r() * file.length));
    case 2: { // change one digit in the header JSON (shapes, offsets)
      const digits: number[] = [];
      for (let i = 8; i < headerEnd; i++) if (out[i]! >= 0x30 && out[i]! <= 0x39) digits.push(i);
      out[digits[Math.floor(r() * digits.length)]!] = 0x30 + Math.floor(r() * 10);
      return out;
    }
    case 3: { // rewrite the header JSON where a lenient parser and the reference would disagree
      const text = new TextDecoder().decode(out.subarray(8, headerEnd));
      const edits: ((t: string) => string)[] = [
        (t) => t.replace(/\d+/, (d) => `${d}.0`), // 64.0
        (t) => t.replace(/\d+/, (d) => `${d}e0`), // 64e0
        (t) => t.replace('"', '"\\ud800'), // a lone surrogate escape in a name
        (t) => `\n\t${t.trimEnd()}`, // leading whitespace (valid)
        (t) => t.replace('"dtype"', '"note":[{"a":[1,{}]}],"dtype"'), // an unknown key (valid)
        (t) => t.replace('{', '{'.repeat(150)), // too deep
      ];
      const edited = new TextEncoder().encode(edits[Math.floor(r() * edits.length)]!(text));
      const file2 = new Uint8Array(8 + edited.byteLength + (file.length - headerEnd));
      new DataView(file2.buffer).setBigUint64(0, BigInt(edited.byteLength), true);
      file2.set(edited, 8);
      file2.set(file.subarray(headerEnd), 8 + edited.byteLength);
      return file2;
    }
    default: // corrupt data bytes (config tensors such as nbits/axis/shape live there)
      for (let i = 0, n = 1 + Math.floor(r() * 16); i < n; i++) out[headerEnd + Math.floor(r() * (file.length - headerEnd))] = Math.floor(r() * 256);
      return out;
  }
}

function expectFileError(e: unknown, what: string) {
  if (!(e instanceof HQQError) || !['BAD_FILE', 'IO_ERROR', 'INVALID_VALUE'].includes(e.code)) {
    throw new Error(`${what}: unexpected ${e instanceof HQQError ? `HQQError ${e.code}` : String(e)}: ${(e as Error)?.message}`);
  }
}

describe('mutation fuzzing of the readers', () => {
  const original = new Uint8Array(readFileSync(REFERENCE));

  it('the safetensors reader and the HQQ layer reader reject or accept, never crash (3000 mutants)', async () => {
    const r = rng(20261125);
    let accepted = 0, rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const mutant = mutate(original, r);
      try {
        const file = await openSafetensors(bytesSource(mutant, `mutant-${i}.safetensors`));
        await readHQQLayers(file);
        accepted++;
      } catch (e) {
        expectFileError(e, `mutant ${i}`);
        rejected++;
      }
    }
    expect(accepted + rejected).toBe(3000);
    expect(rejected).toBeGreaterThan(500);
  });

  it('dequantizing mutated quantized files fails cleanly and leaves no output (60 mutants)', async () => {
    const r = rng(7);
    let failures = 0;
    for (let i = 0; i < 60; i++) {
      const input = join(dir, `in-${i}.safetensors`), output = join(dir, `out-${i}.safetensors`);
      writeFileSync(input, mutate(original, r));
      try {
        await dequantizeModelFile(input, output);
      } catch (e) {
        expectFileError(e, `mutant ${i}`);
        failures++;
        expect(() => readFileSync(output)).toThrow();
      }
    }
    expect(failures).toBeGreaterThan(10);
  });
});
