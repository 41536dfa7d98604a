/**
 * Which llama.cpp tokenizer a tokenizer.json becomes, decided from what it states.
 *
 * llama.cpp's converter names the BPE pre-tokenizer (`tokenizer.ggml.pre`) by tokenizing a test
 * string with the Python tokenizer and hashing the ids (`get_vocab_base_pre` in
 * conversion/base.py). Without Python, hqq-wasm compares the tokenizer.json's pre-tokenizer
 * itself with the ones llama.cpp implements: each entry below is a regex exactly as Hugging Face
 * tokenizers store it — llama.cpp's `src/llama-vocab.cpp` quotes the original next to its
 * adapted copy ("original regex from tokenizer.json") — plus the model's `ignore_merges` flag,
 * which llama.cpp ties to the pre-type (llama_vocab::impl::load). A tokenizer that matches no
 * entry is refused with UNSUPPORTED rather than guessed: a wrong pre-type silently changes
 * tokenization. Browser-safe.
 */
import { HQQError } from '../../../errors.js';
import { isObject, type JsonObject } from '../json.js';
import type { HFTokenizer } from './model.js';

/** How llama.cpp will tokenize: GGUF `tokenizer.ggml.model` and its settings. */
export type TokenizerKind =
  | {
      model: 'gpt2';
      /** `tokenizer.ggml.pre`. */
      pre: string;
      /** Why this pre-type (for reports). */
      reason: string;
      notes: string[];
    }
  | {
      model: 'llama';
      pre: 'default';
      /** `tokenizer.ggml.add_space_prefix`: prepend "▁" to text (llama.cpp also does so after special tokens). */
      addSpacePrefix: boolean;
      reason: string;
      notes: string[];
    };

interface KnownPre {
  pre: string;
  /** The regex as tokenizer.json stores it. */
  regex: string;
  /** The `ignore_merges` llama.cpp uses for this pre-type. */
  ignoreMerges: boolean;
  /** The llama-vocab.cpp pre-type whose regex set this is. */
  source: string;
}

const CONTRACTIONS = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)`;
const LLAMA3_RE = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_RE = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN35_RE = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const TEKKEN_RE = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const GPT4O_RE = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` + CONTRACTIONS + String.raw`?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` + CONTRACTIONS + String.raw`?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Split-regex + ByteLevel pre-tokenizers llama.cpp implements. */
const SPLIT_PRES: readonly KnownPre[] = [
  { pre: 'llama-bpe', regex: LLAMA3_RE, ignoreMerges: true, source: 'LLAMA3 (llama-bpe: ignore_merges, Llama 3.x)' },
  { pre: 'smaug-bpe', regex: LLAMA3_RE, ignoreMerges: false, source: 'SMAUG (the Llama 3 regex without ignore_merges)' },
  { pre: 'qwen2', regex: QWEN2_RE, ignoreMerges: false, source: 'QWEN2 (Qwen 1.5/2/2.5/3, DeepSeek-R1 distills)' },
  { pre: 'qwen35', regex: QWEN35_RE, ignoreMerges: false, source: 'QWEN35 (Qwen 3.5)' },
  { pre: 'tekken', regex: TEKKEN_RE, ignoreMerges: true, source: 'TEKKEN (Mistral Nemo and later)' },
  { pre: 'gpt-4o', regex: GPT4O_RE, ignoreMerges: false, source: 'GPT4O' },
];

/** The pre-types this module can emit, for documentation and tests. */
export const KNOWN_BPE_PRE_TYPES: readonly string[] = Object.freeze([...SPLIT_PRES.map((p) => p.pre), 'gpt-2', 'smollm']);

function unsupported(fileName: string, what: string): never {
  throw new HQQError(
    'UNSUPPORTED',
    `${fileName}: ${what}. hqq-wasm names llama.cpp's pre-tokenizer (tokenizer.ggml.pre) only when tokenizer.json matches one llama.cpp implements (${KNOWN_BPE_PRE_TYPES.join(', ')}, or a SentencePiece-style BPE with byte fallback); a guess would silently tokenize differently. Convert this model with llama.cpp's convert_hf_to_gguf.py`,
  );
}

const typeOf = (v: unknown): string | undefined => (isObject(v) && typeof v.type === 'string' ? v.type : undefined);

/** The steps of a pre-tokenizer (a Sequence flattened one level). */
function steps(pre: unknown): JsonObject[] {
  if (pre === null || pre === undefined) return [];
  if (!isObject(pre)) return [{ type: '?' }];
  if (pre.type === 'Sequence') return Array.isArray(pre.pretokenizers) ? pre.pretokenizers.map((p) => (isObject(p) ? p : { type: '?' })) : [{ type: '?' }];
  return [pre];
}

function splitRegex(step: JsonObject): string | undefined {
  if (step.type !== 'Split' || step.behavior !== 'Isolated' || step.invert === true) return undefined;
  const p = step.pattern;
  return isObject(p) && typeof p.Regex === 'string' ? p.Regex : undefined;
}

function describeSteps(s: JsonObject[]): string {
  return s.length === 0 ? 'no pre-tokenizer' : s.map((x) => String(x.type)).join(' + ');
}

/** The normalizers a byte-level BPE may have: none, or NFC (which llama.cpp does not apply). */
function checkByteLevelNormalizer(tok: HFTokenizer, notes: string[]): void {
  const n = tok.normalizer;
  if (n === null) return;
  if (typeOf(n) === 'NFC') {
    notes.push('tokenizer.json normalizes input to Unicode NFC; llama.cpp does not, so text that is not already NFC can tokenize differently (normalize it before tokenizing)');
    return;
  }
  unsupported(tok.fileName, `normalizer ${JSON.stringify(n).slice(0, 120)} is not applied by llama.cpp's BPE tokenizer`);
}

function byteLevelKind(tok: HFTokenizer, s: JsonObject[]): TokenizerKind {
  const notes: string[] = [];
  if (typeOf(tok.decoder) !== 'ByteLevel') unsupported(tok.fileName, `a byte-level pre-tokenizer with decoder ${JSON.stringify(typeOf(tok.decoder) ?? tok.decoder)} (expected ByteLevel)`);
  checkByteLevelNormalizer(tok, notes);
  const bl = s[s.length - 1]!;
  if (bl.add_prefix_space === true) unsupported(tok.fileName, 'the ByteLevel pre-tokenizer adds a prefix space, which no llama.cpp BPE pre-type does');
  const useRegex = bl.use_regex !== false;
  const flagMismatch = (known: KnownPre): never =>
    unsupported(tok.fileName, `the pre-tokenizer regex is llama.cpp's ${known.pre} one, but model.ignore_merges is ${tok.ignoreMerges} while llama.cpp's ${known.pre} uses ${known.ignoreMerges}`);
  if (s.length === 2 && !useRegex) {
    const re = splitRegex(s[0]!);
    if (re !== undefined) {
      const candidates = SPLIT_PRES.filter((p) => p.regex === re);
      if (candidates.length === 0) unsupported(tok.fileName, `the Split pre-tokenizer regex ${JSON.stringify(re)} is not one llama.cpp implements`);
      const hit = candidates.find((p) => p.ignoreMerges === tok.ignoreMerges);
      if (!hit) return flagMismatch(candidates[0]!);
      return { model: 'gpt2', pre: hit.pre, reason: `Split regex and ignore_merges=${tok.ignoreMerges} match llama.cpp's ${hit.source}`, notes };
    }
  }
  if (tok.ignoreMerges) unsupported(tok.fileName, `pre-tokenizer ${describeSteps(s)} with model.ignore_merges=true`);
  if (s.length === 1 && useRegex) {
    return { model: 'gpt2', pre: 'gpt-2', reason: "a bare ByteLevel pre-tokenizer with its built-in GPT-2 regex (llama.cpp's GPT2 pre-type)", notes };
  }
  if (s.length === 2 && useRegex && s[0]!.type === 'Digits' && s[0]!.individual_digits === true) {
    return { model: 'gpt2', pre: 'smollm', reason: "individual digits, then ByteLevel with the GPT-2 regex (llama.cpp's SMOLLM/STARCODER pre-type)", notes };
  }
  unsupported(tok.fileName, `pre-tokenizer ${describeSteps(s)} is not one llama.cpp implements`);
}

/** The "▁" prefix a SentencePiece-style tokenizer.json adds, or an UNSUPPORTED error. */
function sentencePieceKind(tok: HFTokenizer, s: JsonObject[]): TokenizerKind {
  const notes: string[] = [];
  const fail = (what: string): never => unsupported(tok.fileName, `a SentencePiece-style (byte-fallback) BPE with ${what}`);
  if (typeOf(tok.decoder) !== 'Sequence') fail(`decoder ${JSON.stringify(typeOf(tok.decoder) ?? null)} (llama.cpp's converter requires a Sequence decoder)`);
  const n = tok.normalizer;
  const normSteps = n === null ? [] : typeOf(n) === 'Sequence' && isObject(n) && Array.isArray(n.normalizers) ? n.normalizers : [n];
  const isPrepend = (x: unknown) => isObject(x) && x.type === 'Prepend' && x.prepend === '\u2581';
  const isSpaceReplace = (x: unknown) =>
    isObject(x) && x.type === 'Replace' && isObject(x.pattern) && x.pattern.String === ' ' && x.content === '\u2581';
  if (s.length === 0) {
    // Legacy Llama/Mistral conversion: the normalizer does the SentencePiece whitespace handling.
    if (normSteps.length === 2 && isPrepend(normSteps[0]) && isSpaceReplace(normSteps[1])) {
      return { model: 'llama', pre: 'default', addSpacePrefix: true, reason: 'normalizer Prepend("▁") + Replace(" " -> "▁"): SentencePiece whitespace with a space prefix', notes };
    }
    if (normSteps.length === 1 && isSpaceReplace(normSteps[0])) {
      return { model: 'llama', pre: 'default', addSpacePrefix: false, reason: 'normalizer Replace(" " -> "▁"): SentencePiece whitespace without a space prefix', notes };
    }
    return fail(`normalizer ${JSON.stringify(n).slice(0, 160)}`);
  }
  if (s.length === 1 && s[0]!.type === 'Metaspace' && n === null) {
    const m = s[0]!;
    if (m.replacement !== '\u2581' || m.split === true) fail('a Metaspace pre-tokenizer that splits words or uses another replacement character');
    const scheme = typeof m.prepend_scheme === 'string' ? m.prepend_scheme : m.add_prefix_space === false ? 'never' : 'always';
    if (scheme === 'first') {
      notes.push('the Metaspace pre-tokenizer prepends "▁" only at the start of the text; llama.cpp also prepends it after each special token, so text right after a special token can tokenize differently');
    }
    return { model: 'llama', pre: 'default', addSpacePrefix: scheme !== 'never', reason: `Metaspace pre-tokenizer (prepend_scheme ${scheme})`, notes };
  }
  return fail(`pre-tokenizer ${describeSteps(s)} and normalizer ${JSON.stringify(n).slice(0, 120)}`);
}

/**
 * Classifies a tokenizer: a byte-level BPE becomes `gpt2` with a named pre-type, a BPE with byte
 * fallback (SentencePiece converted to tokenizer.json) becomes `llama`. UNSUPPORTED otherwise.
 */
export function classifyTokenizer(tok: HFTokenizer): TokenizerKind {
  const s = steps(tok.preTokenizer);
  if (s.some((x) => x.type === 'ByteLevel')) {
    if (s[s.length - 1]!.type !== 'ByteLevel') unsupported(tok.fileName, `pre-tokenizer ${describeSteps(s)} (ByteLevel is not the last step)`);
    return byteLevelKind(tok, s);
  }
  if (tok.byteFallback) return sentencePieceKind(tok, s);
  unsupported(tok.fileName, `pre-tokenizer ${describeSteps(s)} without byte-level encoding or byte fallback`);
}
