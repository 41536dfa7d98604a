/**
 * Value parsers for commander options. They throw UsageError with the message this CLI has always
 * printed (commander's own InvalidArgumentError would wrap it in its own wording), and refuse an
 * option given twice unless it is repeatable.
 */
import { UsageError } from './io.js';

type Parser<T> = (value: string, previous: T | undefined) => T;

function once<T>(flag: string, parse: (value: string) => T): Parser<T> {
  return (value, previous) => {
    if (previous !== undefined) throw new UsageError(`${flag} is given twice`);
    return parse(value);
  };
}

/** An integer >= min. */
export function intOption(flag: string, min: number): Parser<number> {
  return once(flag, (v) => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
      throw new UsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    return Number(v);
  });
}

/** One of a fixed set of spellings, mapped to values. */
export function choiceOption<T>(flag: string, choices: readonly T[], spell: (c: T) => string = String, what = `one of ${choices.map(spell).join(', ')}`): Parser<T> {
  return once(flag, (v): T => {
    const i = choices.findIndex((x) => spell(x) === v);
    if (i < 0) throw new UsageError(`${flag} must be ${what}, got ${JSON.stringify(v)}`);
    return choices[i]!;
  });
}

/** Any string, checked by `check` (which throws UsageError). */
export function stringOption(flag: string, check: (v: string) => void = () => {}): Parser<string> {
  return once(flag, (v) => {
    check(v);
    return v;
  });
}

/** A repeatable option: every value, in order. */
export function repeatable(): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => [...(previous ?? []), value];
}
