/**
 * The GGUF token list, token types, scores and merges of a tokenizer.json. Browser-safe.
 *
 * Byte-level BPE (`gpt2`), as the converter's `get_vocab_base` + `_set_vocab_gpt2`: one entry per
 * id below config.json's vocab_size; ids no token uses become "[PAD<id>]" (UNUSED); added tokens
 * are CONTROL when special (or when they look special: "<|...|>", "<pad>"...), else USER_DEFINED
 * with "▁" turned back into spaces; the rest NORMAL. Merges are written in the string form; a
 * pair-form merge is joined with a space after encoding spaces inside it as U+0120, as the
 * converter's SpecialVocab does.
 *
 * SentencePiece-style BPE with byte fallback (`llama`), as the converter's LlamaHfVocab: the
 * base vocabulary in id order, then the added tokens above it; "<0xXX>" tokens are BYTE.
 * Differences, both so llama.cpp tokenizes like the Hugging Face tokenizer:
 *  - scores: the converter writes -1000 for every token, which makes llama.cpp's SentencePiece
 *    merger (it always merges the highest-scoring adjacent pair into a vocabulary token) merge
 *    left to right instead of in BPE rank order. Here a token made by merge rule r scores -r, so
 *    the merger picks pairs in the Hugging Face BPE's rank order; tokens no merge makes (bytes,
 *    single characters, special tokens) score below every merge;
 *  - token types: added tokens are typed as in the byte-level case (CONTROL / USER_DEFINED)
 *    wherever their id is, so llama.cpp splits them out of text as Hugging Face does;
 *  - the list is padded with "[PAD<id>]" up to config.json's vocab_size (the embedding's rows), as
 *    the converter's sentencepiece path does, since llama.cpp requires one token per row.
 */
import { HQQError } from '../../../errors.js';
import type { AddedToken, HFTokenizer } from './model.js';

/** GGUF token types (gguf-py constants.py TokenType). */
export const TOKEN_TYPE = Object.freeze({ NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const);

export interface GGUFVocab {
  tokens: string[];
  types: Int32Array;
  /** SentencePiece-style only. */
  scores?: Float32Array;
  /** Byte-level only: "left right" strings in rank order. */
  merges?: string[];
  /** Ids two tokens claim (the later one is kept, as the converter does): for warnings. */
  clashes: IdClash[];
}

/** Two tokens of one id: `kept` (an added token, or the later vocabulary entry) and `lost`. */
export interface IdClash {
  id: number;
  kept: string;
  lost: string;
}

/** Warnings about a vocabulary (ids claimed twice). */
export function vocabNotes(fileName: string, { clashes }: GGUFVocab): string[] {
  if (clashes.length === 0) return [];
  const shown = clashes.slice(0, 3).map((c) => `${JSON.stringify(c.lost)} lost id ${c.id} to ${JSON.stringify(c.kept)}`).join('; ');
  return [`${fileName}: ${clashes.length} token id(s) are claimed twice (${shown}${clashes.length > 3 ? '; ...' : ''}); the later token keeps the id, as llama.cpp's converter does, so the other cannot be produced`];
}

/** The converter's does_token_look_special. */
export function looksSpecial(token: string): boolean {
  if (token === '<pad>' || token === '<mask>' || token === '<2mass>' || token === '[@BOS@]') return true;
  if (token.startsWith('<|') && token.endsWith('|>')) return true;
  if (token.startsWith('<\uff5c') && token.endsWith('\uff5c>')) return true;
  return token.startsWith('<unused') && token.endsWith('>');
}

function addedType(t: AddedToken, specials: ReadonlySet<string>): number {
  return t.special || specials.has(t.content) || looksSpecial(t.content) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
}

/** id -> token over the base vocabulary and the added tokens (an added token wins its id); the ids claimed twice. */
function reverseVocab(tok: HFTokenizer): { byId: Map<number, string>; clashes: IdClash[] } {
  const byId = new Map<number, string>();
  const clashes: IdClash[] = [];
  const claim = (id: number, token: string) => {
    const before = byId.get(id);
    if (before !== undefined && before !== token) clashes.push({ id, kept: token, lost: before });
    byId.set(id, token);
  };
  for (const [token, id] of tok.vocab) claim(id, token);
  for (const t of tok.added) claim(t.id, t.content);
  return { byId, clashes };
}

function checkFits(tok: HFTokenizer, byId: Map<number, string>, vocabSize: number): void {
  let maxId = -1;
  for (const id of byId.keys()) if (id > maxId) maxId = id;
  if (maxId >= vocabSize) {
    throw new HQQError(
      'BAD_FILE',
      `${tok.fileName}: token ${JSON.stringify(byId.get(maxId))} has id ${maxId}, but config.json's vocab_size is ${vocabSize} (the embedding has ${vocabSize} rows); the tokenizer does not belong to this model`,
    );
  }
}

const SPACE_IN_MERGE = String.fromCharCode(' '.charCodeAt(0) + 256); // U+0120, GPT-2's byte-level space

/** Byte-level BPE vocabulary (GGUF `gpt2`). */
export function byteLevelVocab(tok: HFTokenizer, vocabSize: number, specials: ReadonlySet<string>): GGUFVocab {
  const { byId, clashes } = reverseVocab(tok);
  checkFits(tok, byId, vocabSize);
  if (tok.merges.length === 0) {
    throw new HQQError('BAD_FILE', `${tok.fileName}: the BPE tokenizer has no merges ("model.merges" is empty or missing); llama.cpp cannot load a BPE vocabulary without them`);
  }
  const addedByContent = new Map(tok.added.map((t) => [t.content, t]));
  const tokens = new Array<string>(vocabSize);
  const types = new Int32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const token = byId.get(id);
    if (token === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TOKEN_TYPE.UNUSED;
      continue;
    }
    const added = addedByContent.get(token);
    if (added) {
      types[id] = addedType(added, specials);
      tokens[id] = types[id] === TOKEN_TYPE.USER_DEFINED ? token.replace(/\u2581/g, ' ') : token;
    } else {
      types[id] = TOKEN_TYPE.NORMAL;
      tokens[id] = token;
    }
  }
  const merges = tok.pairMerges
    ? tok.merges.map(([a, b]) => `${a.replace(/ /g, SPACE_IN_MERGE)} ${b.replace(/ /g, SPACE_IN_MERGE)}`)
    : tok.merges.map(([a, b]) => `${a} ${b}`);
  return { tokens, types, merges, clashes };
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/** Scores that make llama.cpp's SentencePiece merger follow the BPE merge ranks (see the file comment). */
function mergeRankScores(tok: HFTokenizer, tokens: readonly string[]): Float32Array {
  const firstRank = new Map<string, number>();
  tok.merges.forEach(([a, b], rank) => {
    const t = a + b;
    if (!firstRank.has(t)) firstRank.set(t, rank);
  });
  const unreachable = -(tok.merges.length + 1);
  const scores = new Float32Array(tokens.length);
  tokens.forEach((t, id) => {
    const r = firstRank.get(t);
    scores[id] = r !== undefined ? -r : unreachable;
  });
  return scores;
}

/** SentencePiece-style vocabulary (GGUF `llama`). */
export function sentencePieceVocab(tok: HFTokenizer, vocabSize: number, specials: ReadonlySet<string>): GGUFVocab {
  const { byId, clashes } = reverseVocab(tok);
  checkFits(tok, byId, vocabSize);
  const base = tok.vocab.size;
  const addedById = new Map(tok.added.map((t) => [t.id, t]));
  const above = tok.added.filter((t) => t.id >= base).sort((x, y) => x.id - y.id);
  above.forEach((t, i) => {
    if (t.id !== base + i) {
      throw new HQQError('BAD_FILE', `${tok.fileName}: added token ${JSON.stringify(t.content)} has id ${t.id}, but the tokens above the ${base}-token base vocabulary must be numbered ${base}, ${base + 1}, ... without gaps`);
    }
  });
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  const total = base + above.length;
  for (let id = 0; id < vocabSize; id++) {
    const token = id < total ? byId.get(id) : undefined;
    if (token === undefined) {
      if (id < base) throw new HQQError('BAD_FILE', `${tok.fileName}: no token has id ${id}, but the ${base}-token vocabulary must use every id below ${base}`);
      tokens.push(`[PAD${id}]`);
      types[id] = TOKEN_TYPE.UNUSED;
      continue;
    }
    const added = addedById.get(id);
    if (added) {
      types[id] = addedType(added, specials);
      tokens.push(types[id] === TOKEN_TYPE.USER_DEFINED ? token.replace(/\u2581/g, ' ') : token);
    } else {
      types[id] = BYTE_TOKEN.test(token) ? TOKEN_TYPE.BYTE : specials.has(token) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL;
      tokens.push(token);
    }
  }
  const missingBytes: string[] = [];
  const present = new Set(tokens);
  for (let b = 0; b < 256; b++) {
    const name = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (!present.has(name)) missingBytes.push(name);
  }
  if (missingBytes.length > 0) {
    // A byte token that lost its id to another token is the likelier fault than a missing one.
    const lost = clashes.filter((c) => missingBytes.includes(c.lost));
    const why = lost.length > 0 ? `: ${lost.slice(0, 3).map((c) => `${c.lost} lost its id ${c.id} to ${JSON.stringify(c.kept)}`).join('; ')}, so two tokens claim one id; give each token its own id` : '';
    throw new HQQError('BAD_FILE', `${tok.fileName}: byte_fallback is set but the vocabulary lacks ${missingBytes.length} byte tokens (${missingBytes.slice(0, 4).join(', ')}${missingBytes.length > 4 ? ', ...' : ''})${why}; llama.cpp needs all 256 "<0xXX>" tokens to fall back to bytes`);
  }
  return { tokens, types, scores: mergeRankScores(tok, tokens), clashes };
}
