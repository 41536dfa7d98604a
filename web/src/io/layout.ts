/**
 * The layout of one output file, known before any tensor is computed: what every container
 * (safetensors, GGUF, ONNX external data) hands to the sinks. Browser-safe.
 *
 * A file is `headerBytes` at offset 0 followed by the tensors at their planned absolute offsets,
 * in file order. Bytes that belong neither to the header nor to a tensor (alignment padding, e.g.
 * between GGUF tensors) are zero; sinks produce them without being told.
 */
export interface LayoutTensor {
  /** The tensor's name (the key of its region in `offsets`). */
  name: string;
  /** Bytes of this tensor (its region is offsets.get(name)). */
  byteLength: number;
}

/** The layout of one output file, planned before any tensor is computed: what the sinks write to. */
export interface FileLayout {
  /** The container header, written at offset 0 (may be empty). */
  headerBytes: Uint8Array;
  /** Size of the whole file, padding included. */
  totalSize: number;
  /** Absolute [`begin`, `end`) byte offsets of every tensor, in file order. */
  offsets: Map<string, { begin: number; end: number }>;
  /** Every tensor, in file order. */
  tensors: readonly LayoutTensor[];
}

/** The zero gaps of a layout (between the header, the tensors and the end), in file order. */
export function layoutGaps(layout: FileLayout): { begin: number; end: number }[] {
  const regions = [...layout.offsets.values()].filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin);
  const gaps: { begin: number; end: number }[] = [];
  let pos = layout.headerBytes.byteLength;
  for (const r of regions) {
    if (r.begin > pos) gaps.push({ begin: pos, end: r.begin });
    pos = Math.max(pos, r.end);
  }
  if (layout.totalSize > pos) gaps.push({ begin: pos, end: layout.totalSize });
  return gaps;
}
