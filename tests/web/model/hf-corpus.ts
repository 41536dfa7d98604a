// Text for tokenizer comparisons: hand-picked cases and seeded random mixes of scripts, emoji,
// code, numbers, whitespace runs and special tokens written out.

const FIXED: readonly string[] = [
  '',
  ' ',
  'a',
  'Hello world',
  'Hello, world! How are you today?',
  ' leading space',
  '  two leading spaces',
  'trailing space ',
  'multiple   spaces   inside',
  'tab\tseparated\tvalues',
  'line one\nline two\nline three',
  'windows\r\nline\r\nendings',
  '\n\n\nthree newlines first',
  'ends with newlines\n\n',
  '    indented code',
  '\t\tdouble tab',
  " \n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
  "don't can't won't shouldn't y'all",
  '3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3',
  '1234567890 0.5 -12.75 1e10 0x1F 1,000,000',
  '2024-01-15T10:30:00Z',
  'café naïve résumé façade coöperate',
  'Ångström Øresund Ærø Straße Gößweinstein',
  'Ελληνικά κείμενο με τόνους',
  'Русский текст: нещо на Български',
  'עברית טקסט מימין לשמאל',
  'العربية نص من اليمين إلى اليسار',
  'हिन्दी पाठ देवनागरी लिपि',
  'ภาษาไทยไม่มีช่องว่างระหว่างคำ',
  'កាន់តែពិសេសអាច',
  '我想在apple工作1314151天～',
  '日本語のテキスト、ひらがなとカタカナ。',
  '한국어 텍스트입니다',
  '🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙',
  '👨‍👩‍👧‍👦 family 🇫🇷🇯🇵 flags 👍🏽 skin tone',
  '∀x ∈ ℝ: x² ≥ 0 ∑ ∫ √ ∞ ≠ ≈',
  '------======= \'\'\'\'\'\'```````""""......!!!!!!??????',
  'def f(x):\n    return x * 2\n',
  'for (let i = 0; i < n; i++) { sum += a[i]; }',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
  '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
  '<div class="x">HTML &amp; entities &lt;tag&gt;</div>',
  'https://example.com/path?query=1&other=two#frag',
  'user@example.org',
  'SELECT * FROM users WHERE id = 42;',
  'C:\\Windows\\System32\\drivers',
  'ALL CAPS SENTENCE HERE',
  'MiXeD CaSe WoRdS',
  'camelCaseIdentifier snake_case_name kebab-case-name',
  '\u00a0non-breaking\u00a0spaces\u2003em\u2009thin',
  'zero\u200bwidth\u200bspace',
  'e\u0301 decomposed accent and n\u0303',
  'ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ',
  '…ellipsis — em dash – en dash “quotes” ‘single’',
  '© ® ™ § ¶ † ‡ • °',
  '¡Hola! ¿Qué tal?',
  'a\u0000b control char',
  '\u0007bell \u001bescape',
  'x'.repeat(300),
  'ab'.repeat(50),
  '.'.repeat(40),
  ' '.repeat(33) + 'x',
  '\n'.repeat(20),
];

const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'Tokenizer', 'quantization', 'HQQ', 'GGUF', 'llama', 'Qwen', 'über', 'niño', 'São', 'Zürich', 'œuvre', 'Привет', 'мир', '你好', '世界', '東京', 'こんにちは', '안녕', 'مرحبا', 'שלום', 'नमस्ते', 'γειά', '🙂', '🔥', '🎉', '❤️', '🧪'];
const PUNCT = ['.', ',', '!', '?', ';', ':', '(', ')', '[', ']', '{', '}', '"', "'", '`', '-', '_', '/', '\\', '*', '&', '%', '$', '#', '@', '^', '~', '|', '<', '>', '=', '+'];
const SPACES = [' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n', '\u3000'];
const CODE = ['if (x) {', 'return;', 'x += 1', 'fn main() {}', 'import os', 'const a = [];', '</s>', '<br/>', '=>', '!==', '::', '...', '0b1010', '#!/bin/sh'];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** About `count` strings: the fixed cases, special tokens alone and in text, then random mixes. */
export function tokenizerCorpus(specialTokens: readonly string[], count = 320, seed = 7): string[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const out = [...FIXED];
  const specials = specialTokens.slice(0, 8);
  for (const s of specials) {
    out.push(s, `${s}Hello`, `Hello ${s} world`, `${s}\n${s}`, ` ${s} `);
  }
  while (out.length < count) {
    const parts: string[] = [];
    const n = 1 + Math.floor(r() * 14);
    for (let i = 0; i < n; i++) {
      const k = r();
      if (k < 0.45) parts.push(pick(WORDS));
      else if (k < 0.6) parts.push(pick(PUNCT));
      else if (k < 0.72) parts.push(String(Math.floor(r() * 10 ** (1 + Math.floor(r() * 7)))));
      else if (k < 0.82) parts.push(pick(CODE));
      else if (k < 0.86 && specials.length) parts.push(pick(specials));
      else parts.push(pick(SPACES));
      if (r() < 0.6) parts.push(' ');
    }
    out.push(parts.join(''));
  }
  return out;
}
