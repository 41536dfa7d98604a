/**
 * The parts of a Hugging Face `tokenizer.json` the GGUF conversion needs, parsed and checked:
 * the BPE model (vocab, merges in either form, flags), the added tokens, and the raw
 * normalizer / pre-tokenizer / decoder / post-processor configs. Browser-safe.
 */
import { HQQError } from '../../../errors.js';
import { describeJson, isObject, type JsonObject } from '../json.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

/** One merge rule: the two parts as tokenizer.json states them. */
export type MergePair = readonly [string, string];

export interface HFTokenizer {
  fileName: string;
  modelType: 'BPE';
  /** Base vocabulary (model.vocab): token -> id. */
  vocab: Map<string, number>;
  /** Merge rules in rank order (string form "a b" and pair form ["a", "b"] both end up here). */
  merges: MergePair[];
  /** True when tokenizer.json stores merges as pairs (transformers >= 4.45). */
  pairMerges: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
  unkToken?: string;
  added: AddedToken[];
  normalizer: unknown;
  preTokenizer: unknown;
  decoder: unknown;
  postProcessor: unknown;
}

function bad(fileName: string, message: string): never {
  throw new HQQError('BAD_FILE', `${fileName}: ${message}`);
}

function parseVocab(model: JsonObject, fileName: string): Map<string, number> {
  const raw = model.vocab;
  if (raw === undefined || raw === null) {
    bad(fileName, 'the tokenizer has no vocabulary ("model.vocab" is missing); a tokenizer.json from transformers always has one. Is this file complete?');
  }
  if (!isObject(raw)) bad(fileName, `"model.vocab" is ${describeJson(raw)}; a BPE vocabulary is an object mapping tokens to ids`);
  const vocab = new Map<string, number>();
  for (const token of Object.keys(raw)) {
    const id = raw[token];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id > 0x7fff_ffff) {
      bad(fileName, `vocabulary token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids must be integers in [0, 2^31)`);
    }
    vocab.set(token, id);
  }
  if (vocab.size === 0) bad(fileName, 'the tokenizer vocabulary ("model.vocab") is empty; the file has no tokens to convert');
  return vocab;
}

/** A string merge "a b": split at the first space that is not the first character (as llama.cpp and tokenizers do). */
function splitMerge(s: string): MergePair | undefined {
  const at = s.indexOf(' ', 1);
  if (at < 0) return undefined;
  return [s.slice(0, at), s.slice(at + 1)];
}

function parseMerges(model: JsonObject, fileName: string): { merges: MergePair[]; pairMerges: boolean } {
  const raw = model.merges;
  if (raw === undefined || raw === null) return { merges: [], pairMerges: false };
  if (!Array.isArray(raw)) bad(fileName, `"model.merges" is ${describeJson(raw)}; it must be a list of merges`);
  if (raw.length === 0) return { merges: [], pairMerges: false };
  const pairMerges = Array.isArray(raw[0]);
  const merges: MergePair[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i];
    if (pairMerges) {
      if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') {
        bad(fileName, `merge ${i} is ${JSON.stringify(m)}; in the pair form every merge is ["left", "right"]`);
      }
      merges[i] = [m[0], m[1]];
    } else {
      const pair = typeof m === 'string' ? splitMerge(m) : undefined;
      if (!pair) bad(fileName, `merge ${i} is ${JSON.stringify(m)}; in the string form every merge is "left right"`);
      merges[i] = pair;
    }
  }
  return { merges, pairMerges };
}

function parseAdded(json: JsonObject, fileName: string): AddedToken[] {
  const raw = json.added_tokens;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) bad(fileName, `"added_tokens" is ${describeJson(raw)}; it must be a list`);
  return raw.map((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isSafeInteger(t.id) || t.id < 0) {
      bad(fileName, `added_tokens[${i}] must be an object with an integer "id" and a string "content"; got ${JSON.stringify(t)?.slice(0, 120)}`);
    }
    return {
      id: t.id,
      content: t.content,
      special: t.special === true,
      normalized: t.normalized === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
    };
  });
}

/** Parses a tokenizer.json object (BPE models only; others are UNSUPPORTED). */
export function parseTokenizerJson(json: JsonObject, fileName = 'tokenizer.json'): HFTokenizer {
  const model = json.model;
  if (!isObject(model)) bad(fileName, `"model" is ${describeJson(model)}; tokenizer.json describes its model (BPE, Unigram, WordPiece) there`);
  const type = model.type ?? (model.merges !== undefined ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new HQQError(
      'UNSUPPORTED',
      `${fileName}: tokenizer model ${JSON.stringify(type ?? null)} is not supported for GGUF output; only BPE tokenizers (GPT-2-style byte-level, and SentencePiece-style with byte fallback) are converted`,
    );
  }
  const vocab = parseVocab(model, fileName);
  const { merges, pairMerges } = parseMerges(model, fileName);
  return {
    fileName,
    modelType: 'BPE',
    vocab,
    merges,
    pairMerges,
    byteFallback: model.byte_fallback === true,
    ignoreMerges: model.ignore_merges === true,
    unkToken: typeof model.unk_token === 'string' ? model.unk_token : undefined,
    added: parseAdded(json, fileName),
    normalizer: json.normalizer ?? null,
    preTokenizer: json.pre_tokenizer ?? null,
    decoder: json.decoder ?? null,
    postProcessor: json.post_processor ?? null,
  };
}
