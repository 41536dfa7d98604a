/**
 * `general.*` naming keys, derived as llama.cpp's converter derives them (gguf-py/gguf/metadata.py
 * `Metadata.get_model_id_components`, `id_to_title`, `apply_metadata_heuristic`, and
 * gguf-py/gguf/utility.py `size_label` / `model_weight_count_rounded_notation`), from what a
 * folder gives without Python: config.json's `_name_or_path` (when it has at most one "/") and
 * the folder's name. The model card (README.md YAML front matter) is not read. Browser-safe.
 */

export interface ModelIdComponents {
  /** The model part of "org/model" (the whole id when it has no "/"). */
  name: string;
  organization?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

export interface GeneralNaming {
  name: string;
  organization?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

type PartType = 'basename' | 'size_label' | 'finetune' | 'version' | 'type';

const VERSION_RE = /^(v|iter)?\d+(\.\d+)*$/i;
const TYPE_RE = /^(i?q\d(_[\p{L}\p{N}_])*|b?fp?(16|32))$/iu;
const SIZE_RE = /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i;
const FINETUNE_RE = /^(chat|instruct|vision|lora)$/i;
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string) => /^\p{L}$/u.test(c);

/** Normalises a size-label part ("7b" -> "7B", "1b5"-style digits moved) and checks it against `totalParams`. */
function sizeLabelPart(raw: string, totalParams: number, types: Set<PartType>): string {
  let part = raw.replace(/_/g, '.');
  if (isDigit(part[part.length - 1])) part = part.slice(0, -2) + '.' + part[part.length - 1] + part[part.length - 2];
  if (part.length > 1 && isDigit(part[part.length - 2]) && 'kmbt'.includes(part[part.length - 1]!)) {
    part = part.slice(0, -1) + part[part.length - 1]!.toUpperCase();
  }
  if (totalParams !== 0) {
    const mantissa = part.slice(0, -1);
    const unit = ' KMBT'.indexOf(part[part.length - 1]!);
    // Python's float() accepts "7", "1.5"; anything else ("8x7", "smal") raises and is skipped.
    if (/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(mantissa)) {
      const labelParams = Number(mantissa) * Math.pow(1000, unit);
      const far = totalParams < 0
        ? labelParams < Math.floor(Math.abs(totalParams) / 8)
        : Math.abs(labelParams - totalParams) > Math.floor((7 * totalParams) / 8);
      if (far) {
        types.add('finetune');
        part = part.slice(0, -1) + part[part.length - 1]!.toLowerCase();
      }
    }
  }
  if (types.size === 0) types.add('size_label');
  return part;
}

/**
 * Splits a model id ("org/Name-7B-Instruct-v0.2") into the parts the GGUF naming convention
 * uses, with the converter's heuristics. `totalParams` (0 = unknown) lets a size that does not fit
 * the model (e.g. "-1B" on a 70B model) count as part of the fine-tune name instead.
 */
export function modelIdComponents(modelId: string, totalParams = 0): ModelIdComponents {
  if (modelId.includes(' ')) return { name: modelId };
  let org: string | undefined;
  let full = modelId;
  const slash = modelId.indexOf('/');
  if (slash >= 0) {
    org = modelId.slice(0, slash);
    full = modelId.slice(slash + 1);
  }
  if (org !== undefined && org.startsWith('.')) org = undefined;
  const parts = full.split('-').filter((p) => p.length > 0);
  const types = parts.map(() => new Set<PartType>());
  parts.forEach((part, i) => {
    const t = types[i]!;
    if (VERSION_RE.test(part)) t.add('version');
    else if (TYPE_RE.test(part)) {
      t.add('type');
      parts[i] = part.toUpperCase();
    } else if (i > 0 && SIZE_RE.test(part)) parts[i] = sizeLabelPart(part, totalParams, t);
    else if (i > 0 && FINETUNE_RE.test(part)) {
      if (totalParams < 0 && part.toLowerCase() === 'lora') t.add('type');
      else t.add('finetune');
    }
  });
  // A numeric size label wins over word sizes ("small", "large"), which then stop being sizes.
  if (parts.some((p, i) => types[i]!.has('size_label') && /\d/.test(p))) {
    parts.forEach((p, i) => {
      if (types[i]!.has('size_label') && [...p].every(isAlpha)) types[i]!.delete('size_label');
    });
  }
  let atStart = true;
  parts.forEach((p, i) => {
    const t = types[i]!;
    if (atStart && ((t.size === 0 && isAlpha(p[0]!)) || t.has('version'))) t.add('basename');
    else {
      atStart = false;
      if (t.size === 0) t.add('finetune');
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    const t = types[i]!;
    if (t.has('basename') && t.size > 1) t.delete('basename');
    else break;
  }
  const join = (pred: (t: Set<PartType>) => boolean, unique = false) => {
    let sel = parts.filter((_, i) => pred(types[i]!));
    if (unique) sel = [...new Set(sel)];
    return sel.length ? sel.join('-') : undefined;
  };
  let basename = join((t) => t.has('basename'));
  const sizeLabel = join((t) => t.has('size_label'), true);
  const finetune = join((t) => t.has('finetune'));
  const version = join((t) => t.has('version') && !t.has('basename'));
  if (sizeLabel === undefined && finetune === undefined && version === undefined) basename = undefined;
  return { name: full, organization: org, basename, finetune, version, sizeLabel };
}

/** Python's str.islower(): at least one cased character and no upper-case one. */
function pyIsLower(w: string): boolean {
  return w !== w.toUpperCase() && w === w.toLowerCase();
}

/** Python's str.title(): a letter after a non-letter is upper-cased, any other letter lower-cased. */
function pyTitle(w: string): string {
  let out = '';
  let prevLetter = false;
  for (const ch of w) {
    const letter = ch.toLowerCase() !== ch.toUpperCase();
    out += letter ? (prevLetter ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevLetter = letter;
  }
  return out;
}

/** "meta-llama" -> "Meta Llama", "llama-3.1-8b" -> "Llama 3.1 8b" (the converter's id_to_title). */
export function idToTitle(s: string): string {
  return s
    .trim()
    .replace(/-/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => (pyIsLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pyTitle(w) : w))
    .join(' ');
}

/** "1.2B", "494M", "8x7.0B"-style size class (gguf-py utility.size_label for dense models). */
export function sizeLabel(totalParams: number): string {
  const n = Math.abs(totalParams);
  let scaled: number;
  let suffix: string;
  if (n > 1e12) [scaled, suffix] = [n * 1e-12, 'T'];
  else if (n > 1e9) [scaled, suffix] = [n * 1e-9, 'B'];
  else if (n > 1e6) [scaled, suffix] = [n * 1e-6, 'M'];
  else [scaled, suffix] = [n * 1e-3, 'K'];
  const rounded = String(roundHalfEven(scaled)).replace(/^0+/, '');
  const fix = Math.max(2 - rounded.length, 0);
  // Python formats an exact tie to even; toFixed rounds it up.
  const shifted = scaled * Math.pow(10, fix);
  const text = Math.abs(shifted % 1) === 0.5 ? (roundHalfEven(shifted) / Math.pow(10, fix)).toFixed(fix) : scaled.toFixed(fix);
  return text + suffix;
}

/** Python 3's round(): ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The naming keys: `_name_or_path` first, then the folder name, each filling what is still
 * missing (the converter's order); the name falls back to the folder name, then to "model".
 * The size label comes from the name, else from `totalParams`.
 */
export function generalNaming(opts: { nameOrPath?: unknown; folderName?: string; totalParams: number; name?: string }): GeneralNaming {
  const out: Partial<GeneralNaming> = {};
  const apply = (id: string) => {
    const c = modelIdComponents(id, opts.totalParams);
    out.name ??= idToTitle(c.name);
    if (c.organization !== undefined) out.organization ??= idToTitle(c.organization);
    if (c.basename !== undefined) out.basename ??= c.basename;
    if (c.finetune !== undefined) out.finetune ??= c.finetune;
    if (c.version !== undefined) out.version ??= c.version;
    if (c.sizeLabel !== undefined) out.sizeLabel ??= c.sizeLabel;
  };
  const nop = opts.nameOrPath;
  if (typeof nop === 'string' && nop.length > 0 && (nop.match(/\//g) ?? []).length <= 1) apply(nop);
  const folder = opts.folderName?.replace(/[\\/]+$/, '').split(/[\\/]/).pop();
  if (folder) apply(folder);
  if (opts.name !== undefined) out.name = opts.name;
  out.name ??= folder || 'model';
  if (out.sizeLabel === undefined && opts.totalParams > 0) out.sizeLabel = sizeLabel(opts.totalParams);
  return out as GeneralNaming;
}
