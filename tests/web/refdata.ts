/**
 * Reference conformance data for the Node tests (../shared/testdata/hqq-ref relative to the repo
 * root, or $HQQ_REF_DIR; layout in its README.md). Everything is driven by manifest.json, so a
 * larger data set with the same layout is covered unchanged. Missing data throws: the tests fail
 * loudly, they never skip.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { QuantizeOptions } from '../../web/src/engine.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** One array of the manifest: `file` is null when only its SHA-256 is recorded. */
export interface RefArray {
  file: string | null;
  dtype: string;
  shape: number[];
  sha256: string;
}

export interface RefInput extends RefArray {
  id: string;
  file: string;
}

export interface RefCase {
  id: string;
  variant: string;
  input: string;
  shape: number[];
  nbits: number;
  group_size: number;
  axis: 0 | 1;
  optimize: boolean;
  round_zero?: boolean;
  packing: string;
  max_q: number;
  n_groups: number;
  grouped_shape: [number, number];
  wq: RefArray;
  packed: RefArray;
  scale: RefArray;
  zero: RefArray;
  dequant: RefArray;
  errors: { mean_abs: number; frobenius: number; max_abs: number; rel_frobenius: number };
  optimizer?: { n_iters: number; error_trace: number[] };
}

export interface Manifest {
  inputs: RefInput[];
  cases: RefCase[];
  [key: string]: unknown;
}

/** $HQQ_REF_DIR, else <repo>/../shared/testdata/hqq-ref. */
export function refDir(): string {
  const env = process.env.HQQ_REF_DIR;
  return env ? resolve(env) : resolve(REPO_ROOT, '../shared/testdata/hqq-ref');
}

/** Bytes of a file relative to the reference directory; throws (never skips) when it is missing. */
export function readRefFile(relative: string): Uint8Array {
  const path = resolve(refDir(), relative);
  if (!existsSync(path)) {
    throw new Error(`reference data file missing: ${path} (the conformance data from ../shared/testdata/hqq-ref is required; set HQQ_REF_DIR to its location)`);
  }
  const b = readFileSync(path);
  // A fresh, aligned copy so typed-array views of any element size work.
  const out = new Uint8Array(b.byteLength);
  out.set(b);
  return out;
}

let cached: Manifest | undefined;

export function manifest(): Manifest {
  if (!cached) {
    const m = JSON.parse(new TextDecoder().decode(readRefFile('manifest.json'))) as Manifest;
    if (!Array.isArray(m.cases) || m.cases.length === 0 || !Array.isArray(m.inputs)) {
      throw new Error(`${resolve(refDir(), 'manifest.json')} lists no cases/inputs`);
    }
    cached = m;
  }
  return cached;
}

/** The stored bytes of an array, or null when the manifest only records its SHA-256. */
export function loadArrayBytes(a: RefArray): Uint8Array | null {
  return a.file === null || a.file === undefined ? null : readRefFile(a.file);
}

const inputCache = new Map<string, Float32Array>();

export function loadInput(id: string): Float32Array {
  let w = inputCache.get(id);
  if (!w) {
    const input = manifest().inputs.find((i) => i.id === id);
    if (!input) throw new Error(`manifest has no input ${id}`);
    const bytes = readRefFile(input.file);
    if (sha256Hex(bytes) !== input.sha256) throw new Error(`input ${input.file} does not match its manifest SHA-256`);
    w = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    inputCache.set(id, w);
  }
  return w;
}

export function sha256Hex(data: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

/** True when `ours` equals the reference array: byte for byte if stored, else by SHA-256. */
export function sameAsReference(ref: RefArray, ours: ArrayBufferView): boolean {
  const bytes = new Uint8Array(ours.buffer, ours.byteOffset, ours.byteLength);
  const file = loadArrayBytes(ref);
  if (file) return file.byteLength === bytes.byteLength && Buffer.compare(file, bytes) === 0;
  return sha256Hex(bytes) === ref.sha256;
}

/** The quantize options a case was produced with (`variant` v0.2.8* keeps beta constant). */
export function caseOptions(c: RefCase): QuantizeOptions {
  const o: QuantizeOptions = {
    nbits: c.nbits as QuantizeOptions['nbits'],
    groupSize: c.group_size,
    axis: c.axis,
    optimize: c.optimize,
    roundZero: c.round_zero ?? false,
  };
  if ((c.variant ?? 'latest').startsWith('v0.2.8')) o.kappa = 1;
  return o;
}
