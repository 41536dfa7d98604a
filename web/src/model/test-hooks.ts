/**
 * Test-only knobs, passed under a symbol key so they stay out of the public option types:
 * `{ ...options, [TEST_HOOKS]: { crashOn: 'x.weight' } }`.
 */
export const TEST_HOOKS = Symbol.for('hqq-wasm.testHooks');

export interface TestHooks {
  /** Make the worker fail on the tensor with this name. */
  crashOn?: string;
  /** 'throw' (default): the worker throws; 'exit': the worker dies. */
  crashMode?: 'throw' | 'exit';
  /** Row-range formats: at most this many weights per job (to exercise splitting on small tensors). */
  maxJobWeights?: number;
}

export function testHooksOf(options: object | undefined): TestHooks | undefined {
  return options ? (options as { [TEST_HOOKS]?: TestHooks })[TEST_HOOKS] : undefined;
}
