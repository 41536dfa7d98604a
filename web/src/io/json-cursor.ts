/**
 * A strict, single-pass JSON reader over a decoded string (browser-safe), for readers that must
 * agree with serde_json, the JSON library of the safetensors reference reader: RFC 8259 syntax
 * only, whitespace = space, tab, line feed, carriage return; strings must be valid Unicode (a
 * `\uD800`-`\uDFFF` escape must be half of a surrogate pair); nesting at most MAX_JSON_DEPTH deep
 * (serde_json's recursion limit). Unlike `JSON.parse` it tells how a number was written, so that
 * a caller can refuse `64.0` or `1e3` where the reference wants an integer, and it lets the caller
 * read an object key by key without building it (linear time and little memory on a 100 MB
 * header). Every syntax error is a `JsonSyntaxError` with the character position.
 */

export const MAX_JSON_DEPTH = 128;

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at character ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** A number as written: its value and whether it is a plain non-negative integer literal. */
export interface JsonNumber {
  value: number;
  /** The literal, e.g. "64.0", "1e3", "-0". */
  text: string;
  /** Digits only (no sign, fraction or exponent): what serde_json accepts as an unsigned integer. */
  unsignedInteger: boolean;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

export class JsonCursor {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new JsonSyntaxError(message, at);
  }

  /** Skips JSON whitespace; returns the next character code (-1 at the end). */
  peek(): number {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else {
        this.pos = p;
        return p < t.length ? c : -1;
      }
    }
  }

  atEnd(): boolean {
    return this.peek() === -1;
  }

  /** Consumes `ch` (after whitespace) or fails. */
  expect(ch: number, what: string): void {
    if (this.peek() !== ch) this.fail(`expected ${what}${this.found()}`);
    this.pos++;
  }

  /** Consumes `ch` (after whitespace) when it is next. */
  eat(ch: number): boolean {
    if (this.peek() !== ch) return false;
    this.pos++;
    return true;
  }

  found(): string {
    const c = this.text.charCodeAt(this.pos);
    if (this.pos >= this.text.length) return ' but the text ends';
    return ` but found ${c >= 0x21 && c <= 0x7e ? JSON.stringify(String.fromCharCode(c)) : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`}`;
  }

  /**
   * Iterates the members of an object: consumes `{`, then for each member calls `member(key)`
   * with the cursor on the value (the callback must read exactly one value), then `}`.
   */
  object(member: (key: string) => void): void {
    this.expect(0x7b, '"{"');
    if (this.eat(0x7d)) return;
    for (;;) {
      if (this.peek() !== 0x22) this.fail(`expected a member name (a string)${this.found()}`);
      const key = this.string();
      this.expect(0x3a, '":"');
      member(key);
      if (this.eat(0x2c)) continue;
      this.expect(0x7d, '"," or "}"');
      return;
    }
  }

  /** Iterates the elements of an array: consumes `[`, calls `element(i)` per element, then `]`. */
  array(element: (index: number) => void): void {
    this.expect(0x5b, '"["');
    if (this.eat(0x5d)) return;
    for (let i = 0; ; i++) {
      element(i);
      if (this.eat(0x2c)) continue;
      this.expect(0x5d, '"," or "]"');
      return;
    }
  }

  /** A string (after whitespace), unescaped. */
  string(): string {
    const t = this.text;
    if (this.peek() !== 0x22) this.fail(`expected a string${this.found()}`);
    const start = ++this.pos;
    let p = start;
    // Fast path: no escapes.
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return t.slice(start, p);
      }
      if (c === 0x5c) break;
      if (c < 0x20 || p >= t.length) {
        if (p >= t.length) this.fail('unterminated string', start - 1);
        this.fail('unescaped control character in a string', p);
      }
      p++;
    }
    const parts: string[] = [t.slice(start, p)];
    for (;;) {
      const c = t.charCodeAt(p);
      if (p >= t.length) this.fail('unterminated string', start - 1);
      if (c === 0x22) {
        this.pos = p + 1;
        return parts.join('');
      }
      if (c < 0x20) this.fail('unescaped control character in a string', p);
      if (c !== 0x5c) {
        let q = p + 1;
        while (q < t.length) {
          const d = t.charCodeAt(q);
          if (d === 0x22 || d === 0x5c || d < 0x20) break;
          q++;
        }
        parts.push(t.slice(p, q));
        p = q;
        continue;
      }
      const e = t.charCodeAt(p + 1);
      switch (e) {
        case 0x22: parts.push('"'); break;
        case 0x5c: parts.push('\\'); break;
        case 0x2f: parts.push('/'); break;
        case 0x62: parts.push('\b'); break;
        case 0x66: parts.push('\f'); break;
        case 0x6e: parts.push('\n'); break;
        case 0x72: parts.push('\r'); break;
        case 0x74: parts.push('\t'); break;
        case 0x75: {
          const unit = this.#hex4(p + 2);
          if (unit >= 0xdc00 && unit <= 0xdfff) this.fail(`lone low surrogate \\u${unit.toString(16)} (not valid Unicode)`, p);
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (t.charCodeAt(p + 6) !== 0x5c || t.charCodeAt(p + 7) !== 0x75) this.fail(`lone high surrogate \\u${unit.toString(16)} (not valid Unicode)`, p);
            const low = this.#hex4(p + 8);
            if (low < 0xdc00 || low > 0xdfff) this.fail(`high surrogate \\u${unit.toString(16)} not followed by a low surrogate (not valid Unicode)`, p);
            parts.push(String.fromCharCode(unit, low));
            p += 12;
            continue;
          }
          parts.push(String.fromCharCode(unit));
          p += 6;
          continue;
        }
        default:
          this.fail('invalid escape in a string', p);
      }
      p += 2;
    }
  }

  #hex4(at: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const h = hexValue(this.text.charCodeAt(at + i));
      if (h < 0) this.fail('invalid \\u escape (4 hex digits needed)', at - 2);
      v = v * 16 + h;
    }
    return v;
  }

  /**
   * The value of a plain unsigned integer literal (digits only, at most 15 of them, not followed
   * by a fraction or exponent) after whitespace, consumed; -1 (nothing consumed) for anything
   * else, which `number()` or `value()` then reads. The fast path of shapes and offsets.
   */
  plainUint(): number {
    const t = this.text;
    this.peek();
    let p = this.pos;
    let c = t.charCodeAt(p);
    if (!isDigit(c)) return -1;
    if (c === 0x30) {
      c = t.charCodeAt(p + 1);
      if (isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45) return -1;
      this.pos = p + 1;
      return 0;
    }
    let v = 0;
    const limit = p + 15;
    while (isDigit(c)) {
      if (p === limit) return -1;
      v = v * 10 + (c - 0x30);
      c = t.charCodeAt(++p);
    }
    if (c === 0x2e || c === 0x65 || c === 0x45) return -1;
    this.pos = p;
    return v;
  }

  /** A number (after whitespace), with how it was written. */
  number(): JsonNumber {
    const t = this.text;
    this.peek();
    const start = this.pos;
    let p = start;
    let plain = true;
    if (t.charCodeAt(p) === 0x2d) {
      p++;
      plain = false;
    }
    const c0 = t.charCodeAt(p);
    if (c0 === 0x30) p++;
    else if (isDigit(c0)) while (isDigit(t.charCodeAt(p))) p++;
    else this.fail(`expected a number${this.found()}`, p);
    if (t.charCodeAt(p) === 0x2e) {
      plain = false;
      p++;
      if (!isDigit(t.charCodeAt(p))) this.fail('expected a digit after the decimal point', p);
      while (isDigit(t.charCodeAt(p))) p++;
    }
    const e = t.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      plain = false;
      p++;
      const s = t.charCodeAt(p);
      if (s === 0x2b || s === 0x2d) p++;
      if (!isDigit(t.charCodeAt(p))) this.fail('expected a digit in the exponent', p);
      while (isDigit(t.charCodeAt(p))) p++;
    }
    this.pos = p;
    const text = t.slice(start, p);
    return { value: Number(text), text, unsignedInteger: plain };
  }

  /** Any JSON value as a plain JS value (objects as null-prototype records); duplicates rejected. */
  value(depth = 0): unknown {
    if (depth >= MAX_JSON_DEPTH) this.fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    const c = this.peek();
    switch (c) {
      case 0x7b: {
        const obj: Record<string, unknown> = Object.create(null);
        const seen = new Set<string>();
        this.object((k) => {
          if (seen.has(k)) throw new JsonDuplicateKey(k);
          seen.add(k);
          obj[k] = this.value(depth + 1);
        });
        return obj;
      }
      case 0x5b: {
        const arr: unknown[] = [];
        this.array(() => arr.push(this.value(depth + 1)));
        return arr;
      }
      case 0x22:
        return this.string();
      case 0x74:
        return this.#literal('true', true);
      case 0x66:
        return this.#literal('false', false);
      case 0x6e:
        return this.#literal('null', null);
      default:
        if (c === 0x2d || isDigit(c)) return this.number().value;
        this.fail(`expected a JSON value${this.found()}`);
    }
  }

  /** Checks that the rest of the text is exactly one JSON value (syntax only: duplicates allowed). */
  checkDocument(): void {
    this.#skip(0);
    if (!this.atEnd()) this.fail('unexpected text after the JSON value');
  }

  #skip(depth: number): void {
    if (depth >= MAX_JSON_DEPTH) this.fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    const c = this.peek();
    if (c === 0x7b) this.object(() => this.#skip(depth + 1));
    else if (c === 0x5b) this.array(() => this.#skip(depth + 1));
    else if (c === 0x22) this.string();
    else if (c === 0x2d || isDigit(c)) this.number();
    else this.value(depth); // literals (and the error for anything else)
  }

  #literal<T>(word: string, v: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected a JSON value${this.found()}`);
    this.pos += word.length;
    return v;
  }
}

/** A key that appears twice in one object of a value read with `JsonCursor.value()`. */
export class JsonDuplicateKey extends Error {
  constructor(readonly key: string) {
    super(`key ${JSON.stringify(key)} appears twice in one object`);
    this.name = 'JsonDuplicateKey';
  }
}
