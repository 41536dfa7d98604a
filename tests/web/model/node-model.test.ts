/**
 * Node file helpers around the orchestrator (node-model.ts): file handles, output folders, reading
 * quantized files back. Runs on the calling thread (inline pool): no web/dist needed.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { dequantizeModelFile, inspectModelFile } from '../../../web/src/node-model.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-node-model-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function catchErr(p: Promise<unknown>): Promise<HQQError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    return e as HQQError;
  }
  throw new Error('expected an HQQError');
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('file handles', () => {
  it('inspect and dequantize of a malformed file throw BAD_FILE and close the file every time', async () => {
    const p = join(dir, 'malformed.safetensors');
    const json = '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]'; // unterminated JSON
    const bytes = Buffer.alloc(8 + json.length + 8);
    bytes.writeBigUInt64LE(BigInt(json.length), 0);
    bytes.write(json, 8, 'latin1');
    await writeFile(p, bytes);
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const err = await catchErr(inspectModelFile(p));
      expect(err.code).toBe('BAD_FILE');
      expect(err.message).toContain('malformed.safetensors');
    }
    for (let i = 0; i < 5; i++) {
      expect((await catchErr(dequantizeModelFile(p, join(dir, 'never.safetensors')))).code).toBe('BAD_FILE');
    }
    expect(openFds()).toBe(before);
    expect(readdirSync(dir)).toEqual(['malformed.safetensors']);
  });
});
