// An independent, plain reading of the MatMulNBits layout (onnxruntime docs/ContribOperators.md):
// B uint8 [N, nBlocks, blockSize*bits/8] packed low bits first along K, scales [N, nBlocks],
// zero points uint8 packed [N, ceil(nBlocks*bits/8)] (or float [N, nBlocks]); weight
// (q - zp) * scale. Used to build the "dequantized twin" a quantized model must agree with.
export interface NBitsBytes {
  qweight: Uint8Array;
  scales: Uint8Array;
  zeroPoints: Uint8Array;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function floats(bytes: Uint8Array, type: 'float32' | 'float16'): Float64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / (type === 'float32' ? 4 : 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = type === 'float32' ? dv.getFloat32(i * 4, true) : f16ToF32(dv.getUint16(i * 2, true));
  return out;
}

/** The weight as [K, N] row-major (MatMul B layout), in float32. */
export function dequantizeRef(q: NBitsBytes, o: { K: number; N: number; bits: number; blockSize: number; scaleType: 'float32' | 'float16'; zeroPoints: 'uint8' | 'float' }): Float32Array {
  const { K, N, bits, blockSize } = o;
  const nBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const scales = floats(q.scales, o.scaleType);
  const fz = o.zeroPoints === 'float' ? floats(q.zeroPoints, o.scaleType) : undefined;
  const zpRow = Math.ceil((nBlocks * bits) / 8);
  const mask = (1 << bits) - 1;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const j = k % blockSize;
      const bitPos = j * bits;
      const v = (q.qweight[(n * nBlocks + b) * blob + (bitPos >> 3)]! >> (bitPos & 7)) & mask;
      const zb = b * bits;
      const z = fz ? fz[n * nBlocks + b]! : (q.zeroPoints[n * zpRow + (zb >> 3)]! >> (zb & 7)) & mask;
      out[k * N + n] = Math.fround((v - z) * scales[n * nBlocks + b]!);
    }
  }
  return out;
}

/** [N, K] row-major as [K, N]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** Plain asymmetric RTN (uint8 zero, float32 scales) in the MatMulNBits layout: a stand-in engine for pipeline tests. */
export function rtnRef(w: Float32Array, shape: [number, number], o: { bits: number; blockSize: number; layout: 'KN' | 'NK'; zeroPoints: 'uint8' | 'float' }): NBitsBytes {
  const [K, N] = o.layout === 'KN' ? shape : [shape[1], shape[0]];
  const at = (k: number, n: number) => (o.layout === 'KN' ? w[k * N + n]! : w[n * K + k]!);
  const nBlocks = Math.ceil(K / o.blockSize);
  const blob = (o.blockSize * o.bits) / 8;
  const zpRow = o.zeroPoints === 'uint8' ? Math.ceil((nBlocks * o.bits) / 8) : nBlocks * 4;
  const qweight = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const zeroPoints = new Uint8Array(N * zpRow);
  const fz = new Float32Array(N * nBlocks);
  const maxq = (1 << o.bits) - 1;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      let lo = 0;
      let hi = 0;
      for (let k = b * o.blockSize; k < Math.min(K, (b + 1) * o.blockSize); k++) {
        lo = Math.min(lo, at(k, n));
        hi = Math.max(hi, at(k, n));
      }
      const s = hi > lo ? (hi - lo) / maxq : 1;
      const z = Math.min(maxq, Math.max(0, Math.round(-lo / s)));
      scales[n * nBlocks + b] = s;
      fz[n * nBlocks + b] = z;
      const zb = b * o.bits;
      if (o.zeroPoints === 'uint8') zeroPoints[n * zpRow + (zb >> 3)]! |= z << (zb & 7);
      for (let j = 0; j < o.blockSize; j++) {
        const k = b * o.blockSize + j;
        const q = k < K ? Math.min(maxq, Math.max(0, Math.round(at(k, n) / Math.fround(s) + z))) : z;
        const bit = j * o.bits;
        qweight[(n * nBlocks + b) * blob + (bit >> 3)]! |= q << (bit & 7);
      }
    }
  }
  return {
    qweight,
    scales: new Uint8Array(scales.buffer),
    zeroPoints: o.zeroPoints === 'uint8' ? zeroPoints : new Uint8Array(fz.buffer),
  };
}
