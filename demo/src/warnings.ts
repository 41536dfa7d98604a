/**
 * The plan's warnings under the options: runtimes that would refuse the chosen config
 * (RUNTIME_COMPAT), an option that makes most tensors copy (MOSTLY_COPIED), patterns that match
 * nothing... One item each, with its code, updated on every re-plan.
 */
import type { PlanWarning } from 'hqq-wasm';
import { ui } from './dom';
import { el } from './format';

const TITLES: Partial<Record<PlanWarning['code'], string>> = {
  RUNTIME_COMPAT: 'Runtime support',
  MOSTLY_COPIED: 'Most tensors would be copied',
  NOTHING_QUANTIZED: 'Nothing would be quantized',
  PATTERN_UNUSED: 'A pattern matches nothing',
  OVERRIDE_UNUSED: 'An override matches nothing',
  WORKERS_CAPPED: 'Workers',
};

export function renderWarnings(warnings: readonly PlanWarning[]): void {
  ui.warnings.replaceChildren(...warnings.map((w) => {
    const li = el('li', `warning ${w.code.toLowerCase()}`);
    li.dataset.code = w.code;
    li.append(el('strong', '', `${TITLES[w.code] ?? 'Note'}: `), w.message);
    return li;
  }));
  ui.warnings.hidden = warnings.length === 0;
}
