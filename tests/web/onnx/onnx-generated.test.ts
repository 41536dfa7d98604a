// The static ONNX protobuf code (web/src/io/onnx/generated, scripts/gen-onnx-protobuf.sh): the
// committed copy is what the generator makes from onnx-schema.json today, it has no run-time code
// generation (CSP without 'unsafe-eval'), and it encodes/decodes exactly as protobufjs reflection
// over the same descriptor did (the reader/writer's outputs must stay byte-identical).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/light.js';
import { describe, expect, it } from 'vitest';

import { onnxTypes } from '../../../web/src/io/onnx/schema.js';

const root = join(import.meta.dirname, '../../..');
const gen = join(root, 'web/src/io/onnx/generated');

describe('generated ONNX protobuf code', () => {
  it('is fresh: regenerating from onnx-schema.json gives the committed files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hqq-onnx-gen-'));
    try {
      const r = spawnSync('bash', [join(root, 'scripts/gen-onnx-protobuf.sh'), dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      for (const f of ['onnx-pb.js', 'onnx-pb.d.ts']) {
        const fresh = await readFile(join(dir, f), 'utf8');
        expect(fresh.length).toBeGreaterThan(1000);
        expect(await readFile(join(gen, f), 'utf8'), `${f} is stale: run scripts/gen-onnx-protobuf.sh`).toBe(fresh);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('compiles nothing at run time and imports only protobufjs/minimal', async () => {
    const js = await readFile(join(gen, 'onnx-pb.js'), 'utf8');
    expect(js).not.toMatch(/Function\(|\beval\(/);
    expect([...js.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1])).toEqual(['protobufjs/minimal.js']);
  });

  it('encodes and decodes as protobufjs reflection over the same descriptor', async () => {
    const json = JSON.parse(await readFile(join(root, 'web/src/io/onnx/onnx-schema.json'), 'utf8'));
    const refl = protobuf.Root.fromJSON(json);
    const tensor = {
      name: 'W', dims: [64, 32], data_type: 1, float_data: [1.5, -2, 0.25], int64_data: [3, 2 ** 40, -7],
      raw_data: [1, 2, 3], external_data: [{ key: 'location', value: 'w.bin' }], data_location: 1, segment: { begin: 0, end: 5 },
    };
    const node = {
      name: 'n', op_type: 'MatMulNBits', domain: 'com.microsoft', input: ['x', 'W_q'], output: ['y'],
      attribute: [{ name: 'K', type: 2, i: 64 }, { name: 'f', type: 1, f: 0.5 }, { name: 'ints', type: 7, ints: [1, 2] }, { name: 't', type: 4, t: tensor }],
    };
    const graph = { name: 'g', node: [node], initializer: [tensor], input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }, { dim_param: 'n' }] } } } }] };
    const cases: [keyof typeof onnxTypes, Record<string, unknown>][] = [
      ['TensorProto', tensor], ['NodeProto', node], ['GraphProto', graph],
      ['OperatorSetIdProto', { domain: 'com.microsoft', version: 1 }], ['StringStringEntryProto', { key: 'k', value: 'v' }],
    ];
    const opts = { longs: Number, defaults: false, bytes: Array, arrays: true };
    for (const [name, obj] of cases) {
      const type = refl.lookupType(`onnx.${name}`);
      const want = type.encode(type.fromObject(obj)).finish();
      const got = (onnxTypes[name] as any).encode((onnxTypes[name] as any).fromObject(obj)).finish();
      expect(Array.from(got), name).toEqual(Array.from(want));
      expect(got.length, name).toBeGreaterThan(4);
      const back = (onnxTypes[name] as any).toObject((onnxTypes[name] as any).decode(want), opts);
      expect(back, name).toEqual(type.toObject(type.decode(want), opts));
    }
  });
});
