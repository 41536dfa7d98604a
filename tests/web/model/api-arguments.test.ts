// Wrong argument types at the public entry points are HQQErrors (INVALID_ARGUMENT) naming the
// argument and what it should be, never a raw TypeError from inside (null options, a number as a
// path, an object as tensorConfig or signal, a ByteSource without read...), and nothing is written.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import {
  bytesSource, blobSource, dequantizeModelFile, inspectModelFile, mergeParts, openGGUF, openSafetensors,
  parseGGUFHeader, parseSafetensorsHeader, planModelInput, quantizeModel, quantizeModelFiles,
} from '../../../web/src/node.js';

const dir = mkdtempSync(join(tmpdir(), 'hqq-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small safetensors file with two quantizable weights. */
function modelFile(): string {
  const header: Record<string, unknown> = {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of ['a.weight', 'b.weight']) {
    const data = new Float32Array(64 * 128).map((_, i) => Math.sin(i * 12.9898) * 0.05);
    header[name] = { dtype: 'F32', shape: [64, 128], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    parts.push(Buffer.from(data.buffer));
  }
  const text = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, Buffer.concat([length, text, ...parts]));
  return path;
}

const model = modelFile();
const out = join(dir, 'out.safetensors');
const any = (v: unknown) => v as never;

async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  return undefined;
}

const cases: [string, () => unknown, RegExp][] = [
  ['null options', () => quantizeModelFiles(model, out, any(null)), /quantizeModelFiles: options must be an object.*got null/],
  ['string options', () => quantizeModelFiles(model, out, any('4bit')), /options must be an object.*got "4bit"/],
  ['a number as input path', () => quantizeModelFiles(any(42), out), /inputPath must be a file path.*got 42/],
  ['a number as output path', () => quantizeModelFiles(model, any(42)), /outputPath must be a file path.*got 42/],
  ['an object as tensorConfig', () => quantizeModelFiles(model, out, { tensorConfig: any({ a: 1 }) }), /tensorConfig must be an array.*got an object/],
  ['an object as signal', () => quantizeModelFiles(model, out, { signal: any({}) }), /signal must be an AbortSignal/],
  ['nbits as a string', () => quantizeModelFiles(model, out, { nbits: any('4') }), /nbits = "4" is not supported/],
  ['a number as onProgress', () => quantizeModelFiles(model, out, { onProgress: any(1) }), /onProgress must be a function/],
  ['a number as createPool', () => quantizeModelFiles(model, out, { createPool: any(1) }), /createPool must be a function/],
  ['dryRun as a string', () => quantizeModelFiles(model, undefined, { dryRun: any('yes') }), /dryRun = "yes" must be true or false/],
  ['an object as hqq', () => quantizeModelFiles(model, out, { hqq: any({}) }), /hqq must be the HQQ instance loadHQQ\(\) resolves with/],
  ['a string as onNotice', () => quantizeModelFiles(model, out, { onNotice: any('x') }), /onNotice must be a function/],
  ['inspect of null', () => inspectModelFile(any(null)), /inspectModelFile: path must be a file path.*got null/],
  ['dequantize with null options', () => dequantizeModelFile(model, join(dir, 'd.safetensors'), any(null)), /dequantizeModelFile: options must be an object/],
  ['dequantize without an input', () => dequantizeModelFile(any(undefined), join(dir, 'd.safetensors')), /inputPath must be a file path.*got undefined/],
  ['mergeParts of a number', () => mergeParts(any(7)), /mergeParts: outputPath must be a file path.*got 7/],
  ['quantizeModel with a number as source', () => quantizeModel({ sources: [any(1)] }, undefined, { dryRun: true }), /input\.sources\[0\] must be a ByteSource.*got 1/],
  ['quantizeModel with an empty object as source', () => quantizeModel({ sources: [any({})] }, undefined, { dryRun: true }), /input\.sources\[0\]: size = undefined must be the byte length/],
  ['quantizeModel with null options', () => quantizeModel({ sources: [bytesSource(new Uint8Array(8))] }, undefined, any(null)), /quantizeModel: options must be an object/],
  ['planModelInput with null options', () => planModelInput({ sources: [bytesSource(new Uint8Array(8))] }, any(null)), /planModelInput: options must be an object/],
  ['openSafetensors of null', () => openSafetensors(any(null)), /openSafetensors: source must be a ByteSource.*got null/],
  ['openGGUF of a source without read', () => openGGUF(any({ size: 4, name: 'x.gguf' })), /openGGUF: source \(x\.gguf\): read must be a function/],
  ['bytesSource of a number', () => bytesSource(any(5)), /bytesSource: bytes must be a Uint8Array, got 5/],
  ['blobSource of bytes', () => blobSource(any(new Uint8Array(4))), /blobSource: blob must be a Blob or File.*use bytesSource/],
  ['parseSafetensorsHeader of null', () => parseSafetensorsHeader(any(null), 16, 'x'), /prefixBytes \(the file's first bytes\) must be a Uint8Array/],
  ['parseSafetensorsHeader without a size or name', () => parseSafetensorsHeader(new Uint8Array(16), any(undefined), any(undefined)), /^safetensors header: fileSize undefined is not a non-negative integer/],
  ['parseGGUFHeader with null options', () => parseGGUFHeader(new Uint8Array(16), 16, 'x.gguf', any(null)), /parseGGUFHeader: options must be an object/],
];

describe('public entry points refuse wrong argument types with INVALID_ARGUMENT', () => {
  it.each(cases)('%s', async (_what, run, message) => {
    const e = await failure(run);
    expect(e, 'expected an error').toBeInstanceOf(HQQError);
    expect((e as HQQError).code, (e as HQQError).message).toBe('INVALID_ARGUMENT');
    expect((e as HQQError).message).toMatch(message);
    expect((e as HQQError).message).not.toMatch(/undefined:|Cannot read|is not a function/);
    expect(existsSync(out)).toBe(false);
  });

  it('well-typed arguments still run (the checks refuse only wrong types)', async () => {
    const report = await quantizeModelFiles(model, undefined, { dryRun: true, nbits: 4, signal: new AbortController().signal, onProgress: () => {} });
    expect(report.tensors.filter((t) => t.action === 'quantize').map((t) => t.name)).toEqual(['a.weight', 'b.weight']);
  });
});
