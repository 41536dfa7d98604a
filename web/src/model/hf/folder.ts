/**
 * A Hugging Face model folder: which of its files matter, which are missing, and its parsed
 * config / tokenizer files. The safetensors files themselves are opened by the input layer
 * (model/input.ts); here only their names and the index are looked at. Browser-safe.
 */
import { HQQError } from '../../errors.js';
import { parseIndexJson, type IndexJson } from '../../io/index-json.js';
import { resolveArchitecture, type ArchitectureSpec } from './architectures.js';
import { readHyperParameters, type HyperParameters } from './hparams.js';
import { isObject, parseJsonObject, type JsonObject } from './json.js';
import { parseTokenizerJson } from './tokenizer/model.js';

/** What a folder is being read for: GGUF needs the tokenizer; an HQQ folder copies it. */
export type FolderTarget = 'gguf' | 'hqq';

/** What a folder file is for: a known JSON/template file, the weights (or their index), weights the model does not use, or anything else. */
export type FileRole =
  | 'config'
  | 'tokenizer'
  | 'tokenizer-config'
  | 'generation-config'
  | 'special-tokens-map'
  | 'chat-template'
  | 'weights-index'
  | 'weights'
  | 'unused-weights'
  | 'other';

/** The files whose text parseHFFolder reads. */
export const HF_TEXT_FILES = Object.freeze({
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
  specialTokensMap: 'special_tokens_map.json',
  chatTemplateJinja: 'chat_template.jinja',
  chatTemplateJson: 'chat_template.json',
  index: 'model.safetensors.index.json',
} as const);

const ROLE_BY_NAME: Readonly<Record<string, FileRole>> = {
  'config.json': 'config',
  'tokenizer.json': 'tokenizer',
  'tokenizer_config.json': 'tokenizer-config',
  'generation_config.json': 'generation-config',
  'special_tokens_map.json': 'special-tokens-map',
  'chat_template.jinja': 'chat-template',
  'chat_template.json': 'chat-template',
  'model.safetensors.index.json': 'weights-index',
};

/** One file of a model folder, with its role. */
export interface FolderFile {
  /** The file name inside the folder (the folder prefix removed). */
  name: string;
  /** The name as given (e.g. "Llama-3.2-1B/config.json" from a dropped folder). */
  path: string;
  /** What the file is for. */
  role: FileRole;
}

/** What a model folder has and lacks for a target (`describeFolderFiles`). */
export interface FolderReport {
  /** The folder prefix shared by the model files ("" when names have none). */
  root: string;
  /** Every file at the folder's top level, with its role. */
  files: FolderFile[];
  /** Names the target needs (the shards only once the index text is known). */
  needed: string[];
  /** Needed names that are not there. */
  missing: string[];
  /** Recognised optional files that are absent (e.g. tokenizer_config.json). */
  optionalMissing: string[];
  /** The weights: the `index` file name of a sharded model, and the `shards` (the .safetensors files it needs). */
  weights: { index?: string; shards: string[] };
  /** One sentence per problem; empty when the folder is complete. */
  problems: string[];
  /** True when `problems` is empty: the folder can be read. */
  ok: boolean;
}

function splitPath(p: string): { dir: string; base: string } {
  const norm = p.replace(/\\/g, '/');
  const at = norm.lastIndexOf('/');
  return at < 0 ? { dir: '', base: norm } : { dir: norm.slice(0, at), base: norm.slice(at + 1) };
}

/** The folder the model lives in: config.json's directory, else the shallowest one. */
function folderRoot(paths: readonly string[]): string {
  const config = paths.map(splitPath).filter((p) => p.base === 'config.json').sort((a, b) => a.dir.length - b.dir.length)[0];
  if (config) return config.dir;
  const dirs = paths.map((p) => splitPath(p).dir).sort((a, b) => a.split('/').length - b.split('/').length || a.length - b.length);
  return dirs[0] ?? '';
}

const SHARD_RE = /^model-\d+-of-\d+\.safetensors$/;

function weightFiles(names: ReadonlySet<string>, indexText: string | undefined, problems: string[]): { index?: string; shards: string[]; needed: string[] } {
  const all = [...names].filter((n) => n.endsWith('.safetensors')).sort();
  const hasIndex = names.has(HF_TEXT_FILES.index);
  if (hasIndex && names.has('model.safetensors')) {
    problems.push('both model.safetensors and model.safetensors.index.json are present; remove the one that does not belong to this model');
  }
  if (hasIndex) {
    if (indexText === undefined) return { index: HF_TEXT_FILES.index, shards: all.filter((n) => SHARD_RE.test(n)), needed: [] };
    const index = parseIndexJson(indexText, HF_TEXT_FILES.index);
    return { index: HF_TEXT_FILES.index, shards: index.shards, needed: index.shards };
  }
  if (names.has('model.safetensors')) return { shards: ['model.safetensors'], needed: ['model.safetensors'] };
  if (all.length === 1) return { shards: all, needed: all };
  if (all.length > 1) {
    problems.push(`${all.length} safetensors files but no model.safetensors.index.json; a sharded model needs its index to say which tensor is where`);
    return { shards: all, needed: [HF_TEXT_FILES.index] };
  }
  return { shards: [], needed: ['model.safetensors'] };
}

/**
 * Sorts a list of file names (as dropped, selected or listed) into what the target needs, has
 * and lacks. Pass the index text, once read, to check the shards it lists. Never throws for a
 * missing file: it reports it, so a page can show what to add.
 * @param options.target What the folder is read for: 'gguf' (default; tokenizer.json required) or 'hqq'.
 * @param options.indexText The text of model.safetensors.index.json, once read, to check the shards it lists.
 */
export function describeFolderFiles(paths: readonly string[], options: { target?: FolderTarget; indexText?: string } = {}): FolderReport {
  const target = options.target ?? 'gguf';
  const root = folderRoot(paths);
  const top = paths.filter((p) => splitPath(p).dir === root);
  const names = new Set(top.map((p) => splitPath(p).base));
  const problems: string[] = [];
  const weights = weightFiles(names, options.indexText, problems);
  const shardSet = new Set(weights.shards);
  const files: FolderFile[] = top.map((path) => {
    const name = splitPath(path).base;
    let role: FileRole = ROLE_BY_NAME[name] ?? 'other';
    if (role === 'other' && name.endsWith('.safetensors')) role = shardSet.has(name) ? 'weights' : 'unused-weights';
    return { name, path, role };
  });
  const needed = ['config.json', ...(target === 'gguf' ? ['tokenizer.json'] : []), ...weights.needed];
  if (weights.index && !needed.includes(weights.index)) needed.push(weights.index);
  const missing = needed.filter((n) => !names.has(n));
  for (const m of missing) {
    if (m === 'config.json') problems.push('config.json is missing: it names the architecture and its sizes; add it from the model repository');
    else if (m === 'tokenizer.json') problems.push('tokenizer.json is missing: a GGUF file carries the tokenizer; add it from the model repository (a tokenizer.model alone is not read)');
    else problems.push(`${m} is missing`);
  }
  const optional = target === 'gguf' ? ['tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'] : ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
  return { root, files, needed, missing, optionalMissing: optional.filter((n) => !names.has(n)), weights: { index: weights.index, shards: weights.shards }, problems, ok: problems.length === 0 };
}

/** One file of a folder: text for the JSON/template files, name only for the others. */
export interface HFFolderInputFile {
  /** The file's name, with or without the folder prefix ("Llama-3.2-1B/config.json"); only files at the folder's top level are read. */
  name: string;
  /** Its text: required for config.json, the tokenizer files, chat templates and the index; omitted for the others. */
  text?: string;
}

/** A parsed, checked Hugging Face model folder (`parseHFFolder`). */
export interface HFFolder {
  /** config.json, parsed. */
  config: JsonObject;
  /** The GGUF mapping of the architecture (target "gguf" only). */
  architecture?: ArchitectureSpec;
  /** Hyper-parameters (target "gguf" only). */
  hparams?: HyperParameters;
  /** tokenizer.json, parsed (required for GGUF). */
  tokenizer?: JsonObject;
  /** tokenizer_config.json, parsed, when present. */
  tokenizerConfig?: JsonObject;
  /** generation_config.json, parsed, when present. */
  generationConfig?: JsonObject;
  /** special_tokens_map.json, parsed, when present. */
  specialTokensMap?: JsonObject;
  /** chat_template.jinja, when present. */
  chatTemplateJinja?: string;
  /** chat_template.json, parsed, when present. */
  chatTemplateJson?: JsonObject;
  /** model.safetensors.index.json, parsed, for a sharded model. */
  index?: IndexJson;
  /** Safetensors files holding the weights, in index order. */
  weightFiles: string[];
  /** The folder's name (for general.name), when the paths carry one. */
  folderName?: string;
  /** What the folder has and lacks. */
  report: FolderReport;
  /** What the GGUF conversion will do differently from the input (rope scaling llama.cpp lacks, a missing lm_head...), one sentence each. */
  warnings: string[];
}

function readText(byName: Map<string, HFFolderInputFile>, name: string): string | undefined {
  const f = byName.get(name);
  if (!f) return undefined;
  if (typeof f.text !== 'string') throw new HQQError('INVALID_ARGUMENT', `parseHFFolder: ${name} was listed without its text; pass { name, text } for the folder's JSON files`);
  return f.text;
}

/**
 * Parses and checks a folder's files: config.json (required; for GGUF its architecture must be
 * supported), the tokenizer files (tokenizer.json required for GGUF, with a vocabulary), the
 * index (its shards must all be given). Errors name the file and the fix.
 * @param options.target What the folder is read for: 'gguf' (default: the architecture must be supported, tokenizer.json is required) or 'hqq'.
 */
export function parseHFFolder(files: readonly HFFolderInputFile[], options: { target?: FolderTarget } = {}): HFFolder {
  const target = options.target ?? 'gguf';
  if (!Array.isArray(files)) throw new HQQError('INVALID_ARGUMENT', 'parseHFFolder: pass the folder as a list of { name, text } files');
  const report = describeFolderFiles(files.map((f) => f.name), { target });
  const byName = new Map<string, HFFolderInputFile>();
  for (const f of files) if (splitPath(f.name).dir === report.root) byName.set(splitPath(f.name).base, f);
  const configText = readText(byName, HF_TEXT_FILES.config);
  if (configText === undefined) {
    throw new HQQError('BAD_FILE', `no config.json in the folder${report.root ? ` ${JSON.stringify(report.root)}` : ''}: it names the architecture and its sizes. Pick the whole model folder (config.json, tokenizer files and the .safetensors weights)`);
  }
  const config = parseJsonObject(configText, HF_TEXT_FILES.config, true);
  const warnings: string[] = [];
  const optionalJson = (name: string, dup = true) => {
    const text = readText(byName, name);
    return text === undefined ? undefined : parseJsonObject(text, name, dup);
  };
  const folder: HFFolder = {
    config,
    tokenizerConfig: optionalJson(HF_TEXT_FILES.tokenizerConfig),
    generationConfig: optionalJson(HF_TEXT_FILES.generationConfig),
    specialTokensMap: optionalJson(HF_TEXT_FILES.specialTokensMap),
    chatTemplateJinja: readText(byName, HF_TEXT_FILES.chatTemplateJinja),
    chatTemplateJson: optionalJson(HF_TEXT_FILES.chatTemplateJson),
    weightFiles: [],
    folderName: report.root ? report.root.split('/').pop() : undefined,
    report,
    warnings,
  };
  const tokenizerText = readText(byName, HF_TEXT_FILES.tokenizer);
  if (tokenizerText !== undefined) {
    folder.tokenizer = parseJsonObject(tokenizerText, HF_TEXT_FILES.tokenizer);
    if (target === 'gguf') parseTokenizerJson(folder.tokenizer); // checks the vocabulary now, with a clear error
  }
  const indexText = readText(byName, HF_TEXT_FILES.index);
  if (indexText !== undefined) {
    folder.index = parseIndexJson(indexText, HF_TEXT_FILES.index);
    const absent = folder.index.shards.filter((s) => !byName.has(s));
    if (absent.length > 0) {
      throw new HQQError('BAD_FILE', `model.safetensors.index.json lists ${absent.length} shard(s) that are not in the folder: ${absent.slice(0, 4).join(', ')}${absent.length > 4 ? ', ...' : ''}; add every shard, or use the index that belongs to these files`);
    }
    folder.weightFiles = folder.index.shards;
  } else {
    const { shards } = report.weights;
    if (report.problems.some((p) => p.includes('no model.safetensors.index.json'))) {
      throw new HQQError('BAD_FILE', `${shards.length} safetensors files (${shards.slice(0, 3).join(', ')}...) but no model.safetensors.index.json; a sharded model needs its index. Add it from the model repository`);
    }
    folder.weightFiles = shards;
  }
  if (folder.weightFiles.length === 0) {
    throw new HQQError('BAD_FILE', 'no weights in the folder: expected model.safetensors, or model.safetensors.index.json with its shards');
  }
  if (isObject(config.quantization_config)) {
    const method = (config.quantization_config as JsonObject).quant_method;
    throw new HQQError('UNSUPPORTED', `config.json: the model is already quantized (quantization_config.quant_method ${JSON.stringify(method)}); start from the unquantized (float16/bfloat16/float32) model`);
  }
  if (target === 'gguf') {
    folder.architecture = resolveArchitecture(config);
    folder.hparams = readHyperParameters(config, folder.architecture, HF_TEXT_FILES.config, warnings);
    if (!folder.tokenizer) {
      throw new HQQError('BAD_FILE', 'no tokenizer.json in the folder: a GGUF file carries the tokenizer, and hqq-wasm reads it from tokenizer.json (tokenizer.model alone is not read). Add tokenizer.json from the model repository');
    }
  }
  return folder;
}
