/**
 * Special tokens, add-bos/eos flags and the chat template, found the way llama.cpp's converter
 * finds them (gguf-py/gguf/vocab.py `SpecialVocab`), with two additions that make llama.cpp
 * tokenize like the Hugging Face tokenizer:
 *  - special_tokens_map.json fills a `<type>_token` tokenizer_config.json does not name
 *    (transformers merges it the same way);
 *  - add_bos / add_eos are always written: when neither tokenizer_config.json nor the
 *    post-processor says, the Hugging Face tokenizer adds nothing, so `false` is written instead
 *    of leaving llama.cpp's per-pre-type default (llama-bpe, tekken and SentencePiece default to
 *    adding a BOS).
 * Browser-safe.
 */
import { HQQError } from '../../../errors.js';
import { isObject, type JsonObject } from '../json.js';
import type { HFTokenizer } from './model.js';

/** Token roles with a `tokenizer.ggml.<role>_token_id` key (the converter's default list, plus eot/eom). */
export type SpecialRole = 'bos' | 'eos' | 'unk' | 'sep' | 'pad' | 'cls' | 'mask' | 'eot' | 'eom';

export type ChatTemplate = string | { name: string; template: string }[];

export interface SpecialTokens {
  /** Role -> token id, in the order the converter sets them. */
  ids: Map<SpecialRole, number>;
  /** add_<role>_token flags, in the order the converter sets them. */
  add: Map<'bos' | 'eos' | 'sep', boolean>;
  chatTemplate?: ChatTemplate;
  notes: string[];
}

export interface SpecialTokenSources {
  tokenizer: HFTokenizer;
  tokenizerConfig?: JsonObject;
  specialTokensMap?: JsonObject;
  config?: JsonObject;
  /** chat_template.jinja (transformers >= 4.43 saves the template there). */
  chatTemplateJinja?: string;
  /** chat_template.json (older processors). */
  chatTemplateJson?: JsonObject;
  /** Ids at or above this are skipped (the converter's n_vocab check), e.g. the token count. */
  vocabLimit?: number;
}

const ROLES: readonly SpecialRole[] = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'];

/** The content of a `<role>_token` entry: a string, or an AddedToken object with "content". */
export function tokenContent(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry.length ? entry : undefined;
  if (isObject(entry) && typeof entry.content === 'string') return entry.content;
  return undefined;
}

function specialTokenId(entry: unknown): string | undefined {
  return isObject(entry) && isObject(entry.SpecialToken) && typeof entry.SpecialToken.id === 'string' ? entry.SpecialToken.id : undefined;
}

/** Reads add flags (and token renames) from the post-processor, as SpecialVocab does. */
function readPostProcessor(post: unknown, tc: JsonObject | undefined, roles: SpecialRole[], add: SpecialTokens['add'], notes: string[]): void {
  if (!isObject(post)) return;
  const processors = Array.isArray(post.processors) ? post.processors : [post];
  for (const p of processors) {
    if (!isObject(p)) continue;
    if (p.type === 'RobertaProcessing') {
      add.set('bos', true).set('eos', true).set('sep', true);
      continue;
    }
    if (p.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length <= 1) continue;
    const single = p.single as unknown[];
    const first = specialTokenId(single[0]);
    if (first && tc) {
      // A leading token that is neither BOS nor CLS fills whichever of them is unset.
      if (first !== tokenContent(tc.bos_token) && first !== tokenContent(tc.cls_token)) {
        if (!tokenContent(tc.bos_token)) tc.bos_token = first;
        if (!tokenContent(tc.cls_token)) tc.cls_token = first;
      }
      const known = first === tokenContent(tc.bos_token) || first === tokenContent(tc.cls_token);
      add.set('bos', known);
      if (!known) notes.push(`the post-processor starts with ${JSON.stringify(first)}, which is neither the BOS nor the CLS token; add_bos_token is false`);
    } else if (first) add.set('bos', true);
    const last = specialTokenId(single[single.length - 1]);
    if (last) {
      if (tc && last !== tokenContent(tc.eos_token)) {
        // The old EOS becomes the end-of-turn (then end-of-message) token, as the converter does.
        const spare = !roles.includes('eot') ? 'eot' : !roles.includes('eom') ? 'eom' : undefined;
        if (spare) {
          roles.push(spare);
          tc[`${spare}_token`] = tc.eos_token;
        }
        tc.eos_token = last;
      }
      add.set('eos', true);
    }
  }
}

function chatTemplateOf(src: SpecialTokenSources): ChatTemplate | undefined {
  const fromConfig = src.tokenizerConfig?.chat_template;
  const raw = fromConfig !== undefined ? fromConfig : src.chatTemplateJinja ?? src.chatTemplateJson?.chat_template;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    return raw.map((t, i) => {
      if (!isObject(t) || typeof t.template !== 'string') {
        throw new HQQError('BAD_FILE', `tokenizer_config.json: chat_template[${i}] must be {"name": ..., "template": "..."}`);
      }
      return { name: typeof t.name === 'string' ? t.name : '', template: t.template };
    });
  }
  throw new HQQError('BAD_FILE', `tokenizer_config.json: "chat_template" must be a string or a list of {name, template}; got ${typeof raw}`);
}

/** Finds the special tokens, flags and chat template. */
export function findSpecialTokens(src: SpecialTokenSources): SpecialTokens {
  const notes: string[] = [];
  const ids = new Map<SpecialRole, number>();
  const add: SpecialTokens['add'] = new Map();
  const roles = [...ROLES];
  // A private copy: the converter renames tokens inside it while reading the post-processor.
  const tc: JsonObject | undefined = src.tokenizerConfig ? { ...src.tokenizerConfig } : undefined;
  if (tc) {
    if (!tokenContent(tc.bos_token) && tokenContent(tc.cls_token)) tc.bos_token = tc.cls_token;
    if (!tokenContent(tc.eos_token) && tokenContent(tc.sep_token)) tc.eos_token = tc.sep_token;
  }
  readPostProcessor(src.tokenizer.postProcessor, tc, roles, add, notes);
  const set = (role: SpecialRole, id: unknown, from: string) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) return;
    if (id < 0) throw new HQQError('BAD_FILE', `${from}: ${role} token id ${id} is negative`);
    if (src.vocabLimit !== undefined && id >= src.vocabLimit) {
      notes.push(`${from}: ${role} token id ${id} is outside the ${src.vocabLimit}-token vocabulary; skipped`);
      return;
    }
    if (!ids.has(role)) ids.set(role, id);
  };
  const chatTemplate = tc ? chatTemplateOf(src) : undefined;
  if (tc) {
    for (const role of roles) {
      const flag = tc[`add_${role}_token`];
      const flagged = role === 'bos' || role === 'eos' || role === 'sep';
      if (flagged && typeof flag === 'boolean') add.set(role, flag);
      else if (flagged && flag !== undefined && flag !== null) {
        notes.push(`tokenizer_config.json: "add_${role}_token" is ${JSON.stringify(flag)}, not true or false; ignored (transformers would fail on it), so the ${role.toUpperCase()} flag comes from the post-processor or defaults to false`);
      }
      const entry = tc[`${role}_token`];
      if (entry !== undefined && entry !== null && typeof entry !== 'string' && tokenContent(entry) === undefined) {
        notes.push(`tokenizer_config.json: "${role}_token" is ${JSON.stringify(entry)}, but it must be the token's text (or {"content": "..."}); no ${role.toUpperCase()} token id comes from it${role === 'eos' ? ', so generation may not stop' : ''}`);
      }
      const content = tokenContent(entry) ?? tokenContent(src.specialTokensMap?.[`${role}_token`]);
      if (content === undefined) continue;
      // Only added tokens are looked up, as the converter does (the first with that content).
      const hit = src.tokenizer.added.find((t) => t.content === content);
      set(role, hit?.id, 'tokenizer_config.json');
    }
  }
  const cfg = src.config;
  if (cfg) {
    for (const role of roles) {
      let id = cfg[`${role}_token_id`];
      if ((id === undefined || id === null) && isObject(cfg.text_config)) id = cfg.text_config[`${role}_token_id`];
      set(role, id, 'config.json');
    }
  }
  if (!add.has('bos')) add.set('bos', false);
  if (!add.has('eos')) add.set('eos', false);
  return { ids, add, chatTemplate, notes };
}

/**
 * Every token transformers counts as special for this tokenizer (`all_special_tokens`): the named
 * roles of tokenizer_config.json / special_tokens_map.json and `additional_special_tokens`, plus
 * the added tokens marked special. Contents, not ids.
 */
export function specialTokenContents(src: Pick<SpecialTokenSources, 'tokenizer' | 'tokenizerConfig' | 'specialTokensMap'>): Set<string> {
  const out = new Set<string>();
  for (const source of [src.tokenizerConfig, src.specialTokensMap]) {
    if (!source) continue;
    for (const role of ROLES) {
      const c = tokenContent(source[`${role}_token`]);
      if (c !== undefined) out.add(c);
    }
    const extra = source.additional_special_tokens;
    if (Array.isArray(extra)) for (const e of extra) {
      const c = tokenContent(e);
      if (c !== undefined) out.add(c);
    }
  }
  for (const t of src.tokenizer.added) if (t.special) out.add(t.content);
  return out;
}
