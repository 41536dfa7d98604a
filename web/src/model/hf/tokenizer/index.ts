/**
 * tokenizer.json (+ tokenizer_config.json, special_tokens_map.json, config.json, chat template
 * files) -> the `tokenizer.*` GGUF metadata llama.cpp reads. Browser-safe.
 *
 * Byte-level BPE tokenizers become `tokenizer.ggml.model = "gpt2"` with tokens, token types,
 * merges and a `tokenizer.ggml.pre` named from the pre-tokenizer (see pre-tokenizer.ts);
 * SentencePiece-style BPE tokenizers with byte fallback become `"llama"` with tokens, scores and
 * token types (see vocab.ts). Then special token ids, add_bos/add_eos and the chat template
 * (see special.ts). Keys are in the order llama.cpp's converter writes them.
 */
import { HQQError } from '../../../errors.js';
import { ggufValue, type GGUFValue } from '../../../io/gguf-metadata.js';
import type { JsonObject } from '../json.js';
import { parseTokenizerJson, type HFTokenizer } from './model.js';
import { classifyTokenizer, type TokenizerKind } from './pre-tokenizer.js';
import { findSpecialTokens, specialTokenContents, type ChatTemplate, type SpecialRole } from './special.js';
import { byteLevelVocab, sentencePieceVocab, vocabNotes, type GGUFVocab } from './vocab.js';

export { parseTokenizerJson, type HFTokenizer, type AddedToken } from './model.js';
export { classifyTokenizer, KNOWN_BPE_PRE_TYPES, type TokenizerKind } from './pre-tokenizer.js';
export { TOKEN_TYPE, looksSpecial } from './vocab.js';
export type { ChatTemplate, SpecialRole } from './special.js';

export interface TokenizerFiles {
  /** Parsed tokenizer.json (required). */
  tokenizer: JsonObject;
  tokenizerConfig?: JsonObject;
  specialTokensMap?: JsonObject;
  /** Parsed config.json: vocab_size and the `<role>_token_id` fallbacks. */
  config?: JsonObject;
  chatTemplateJinja?: string;
  chatTemplateJson?: JsonObject;
}

export interface TokenizerGGUFOptions {
  /** Token count to write (= embedding rows). Default: config.json's vocab_size, else the tokenizer's size. */
  vocabSize?: number;
  /**
   * Force `tokenizer.ggml.pre` for a byte-level BPE (e.g. computed elsewhere by hashing, as the
   * converter does). Use with care: a wrong pre-type tokenizes differently.
   */
  pre?: string;
}

export interface TokenizerGGUF {
  /** `tokenizer.*` entries, in the converter's order. */
  metadata: [string, GGUFValue][];
  model: 'gpt2' | 'llama';
  pre: string;
  /** Why this model/pre-type was chosen. */
  reason: string;
  tokenCount: number;
  specialTokens: Partial<Record<SpecialRole, number>>;
  addBos: boolean;
  addEos: boolean;
  chatTemplate?: ChatTemplate;
  /** Things that tokenize differently from Hugging Face, or were skipped. */
  notes: string[];
}

function defaultVocabSize(tok: HFTokenizer): number {
  let n = 0;
  for (const id of tok.vocab.values()) n = Math.max(n, id + 1);
  for (const t of tok.added) n = Math.max(n, t.id + 1);
  return n;
}

function chatTemplateEntries(t: ChatTemplate): [string, GGUFValue][] {
  if (typeof t === 'string') return [['tokenizer.chat_template', ggufValue.string(t)]];
  const out: [string, GGUFValue][] = [];
  const names: string[] = [];
  let fallback: string | undefined;
  for (const { name, template } of t) {
    // The converter keeps letters and digits of a template name and turns the rest into "_".
    const clean = name.replace(/[^A-Za-z0-9]/g, '_');
    if (!clean) continue;
    if (clean === 'default') fallback = template;
    else if (!names.includes(clean)) {
      names.push(clean);
      out.push([`tokenizer.chat_template.${clean}`, ggufValue.string(template)]);
    }
  }
  if (names.length) out.push(['tokenizer.chat_templates', ggufValue.strings(names)]);
  if (fallback !== undefined) out.push(['tokenizer.chat_template', ggufValue.string(fallback)]);
  return out;
}

function vocabEntries(kind: TokenizerKind, vocab: GGUFVocab): [string, GGUFValue][] {
  const out: [string, GGUFValue][] = [
    ['tokenizer.ggml.model', ggufValue.string(kind.model)],
    ['tokenizer.ggml.pre', ggufValue.string(kind.pre)],
    ['tokenizer.ggml.tokens', ggufValue.strings(vocab.tokens)],
  ];
  if (vocab.scores) out.push(['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', items: vocab.scores }]);
  out.push(['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', items: vocab.types }]);
  if (kind.model === 'llama') out.push(['tokenizer.ggml.add_space_prefix', ggufValue.bool(kind.addSpacePrefix)]);
  if (vocab.merges) out.push(['tokenizer.ggml.merges', ggufValue.strings(vocab.merges)]);
  return out;
}

// The converter's GGUFWriter has no add_cls_token_id, so a CLS id is never written (it logs
// "No handler for special token type cls"); the same here.
const ID_KEYS: Record<Exclude<SpecialRole, 'cls'>, string> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic: the key llama.cpp reads
  pad: 'tokenizer.ggml.padding_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  eom: 'tokenizer.ggml.eom_token_id',
};

/** Builds the tokenizer metadata. BAD_FILE / UNSUPPORTED with the file and the reason when it cannot. */
export function tokenizerToGGUF(files: TokenizerFiles, options: TokenizerGGUFOptions = {}): TokenizerGGUF {
  const tok = parseTokenizerJson(files.tokenizer);
  let kind = classifyTokenizer(tok);
  if (options.pre !== undefined) {
    if (kind.model !== 'gpt2') throw new HQQError('INVALID_ARGUMENT', `tokenizerToGGUF: pre ${JSON.stringify(options.pre)} applies to byte-level BPE tokenizers; this one is SentencePiece-style (tokenizer.ggml.pre "default")`);
    kind = { ...kind, pre: options.pre, reason: 'given by the caller' };
  }
  const cfgVocab = files.config?.vocab_size;
  const vocabSize = options.vocabSize ?? (typeof cfgVocab === 'number' && Number.isSafeInteger(cfgVocab) && cfgVocab > 0 ? cfgVocab : defaultVocabSize(tok));
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) throw new HQQError('INVALID_ARGUMENT', `tokenizerToGGUF: vocabSize ${vocabSize} must be a positive integer`);
  const specials = specialTokenContents({ tokenizer: tok, tokenizerConfig: files.tokenizerConfig, specialTokensMap: files.specialTokensMap });
  const vocab = kind.model === 'gpt2' ? byteLevelVocab(tok, vocabSize, specials) : sentencePieceVocab(tok, vocabSize, specials);
  const special = findSpecialTokens({
    tokenizer: tok,
    tokenizerConfig: files.tokenizerConfig,
    specialTokensMap: files.specialTokensMap,
    config: files.config,
    chatTemplateJinja: files.chatTemplateJinja,
    chatTemplateJson: files.chatTemplateJson,
    vocabLimit: vocab.tokens.length,
  });
  const metadata = vocabEntries(kind, vocab);
  for (const [role, id] of special.ids) if (role !== 'cls') metadata.push([ID_KEYS[role], ggufValue.u32(id)]);
  for (const [role, flag] of special.add) metadata.push([`tokenizer.ggml.add_${role}_token`, ggufValue.bool(flag)]);
  if (special.chatTemplate !== undefined) metadata.push(...chatTemplateEntries(special.chatTemplate));
  const addBos = special.add.get('bos') ?? false;
  if (addBos && !special.ids.has('bos')) {
    throw new HQQError('BAD_FILE', `${tok.fileName}: the tokenizer adds a BOS token but none is defined (no bos_token in tokenizer_config.json matching an added token, no bos_token_id in config.json); llama.cpp would refuse to tokenize`);
  }
  return {
    metadata,
    model: kind.model,
    pre: kind.pre,
    reason: kind.reason,
    tokenCount: vocab.tokens.length,
    specialTokens: Object.fromEntries(special.ids),
    addBos,
    addEos: special.add.get('eos') ?? false,
    chatTemplate: special.chatTemplate,
    notes: [
      ...kind.notes, ...special.notes, ...vocabNotes(tok.fileName, vocab),
      // llama.cpp then never stops at an end token: generation runs to the length limit.
      ...(special.ids.has('eos') ? [] : [`${tok.fileName}: no EOS token is defined (no eos_token in tokenizer_config.json matching an added token, no eos_token_id in config.json); llama.cpp will not stop generating at an end token`]),
    ],
  };
}
