// Code blocks of the README and docs, for the packaging test: every ```ts / ```js block is written out
// as a file and compiled against the packed package; a block preceded by `<!-- fixture: PATH -->` must
// be byte-identical to tests/package/fixtures/PATH (the recipe shown is the recipe tested); ```json
// blocks must parse.
//
// Fence info: ```ts (or js) compiles in the strict browser project, ```ts node in the strict Node
// project. Other languages (sh, text, ...) are prose.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const FENCE = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
const FIXTURE_MARK = /<!--\s*fixture:\s*(\S+)\s*-->\s*$/;

/** The code blocks of one markdown file: {file, line, lang, env, fixture, code}. */
export function codeBlocks(path) {
  const text = readFileSync(path, 'utf8');
  const blocks = [];
  for (const m of text.matchAll(FENCE)) {
    const [lang = '', env = 'browser'] = m[1].trim().split(/\s+/);
    const before = text.slice(0, m.index).trimEnd();
    const fixture = FIXTURE_MARK.exec(before)?.[1];
    const line = text.slice(0, m.index).split('\n').length;
    blocks.push({ file: path, name: basename(path), line, lang: lang.toLowerCase(), env, fixture, code: m[2] });
  }
  return blocks;
}

/** The blocks to compile (ts/js without a fixture mark), each with a file name of its own. */
export function compilableSnippets(blocks) {
  return blocks
    .filter((b) => !b.fixture && ['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(b.lang))
    .map((b) => {
      if (b.env !== 'node' && b.env !== 'browser') throw new Error(`${b.name}:${b.line}: fence info "${b.lang} ${b.env}": the second word must be node or browser`);
      const ext = b.lang.startsWith('t') ? 'ts' : 'js';
      // Each snippet is a module of its own (top-level await, no clashes between snippets).
      const code = /^\s*(import|export)\s/m.test(b.code) ? b.code : `${b.code}\nexport {};\n`;
      return { ...b, fileName: `${b.name.replace(/\W+/g, '-')}-line${b.line}.${ext}`, code };
    });
}
