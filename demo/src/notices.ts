/** The error box and the notice line (messages are the library's, titled by error code). */
import { HQQError } from 'hqq-wasm';
import { ui } from './dom';

const ERROR_TITLES: Partial<Record<string, string>> = {
  BAD_FILE: 'This file cannot be read as a model',
  INVALID_ARGUMENT: 'These inputs or options do not work together',
  INVALID_VALUE: 'The weights contain values that cannot be quantized',
  UNSUPPORTED: 'Not supported here',
  OUT_OF_MEMORY: 'Out of memory',
  IO_ERROR: 'Reading or writing a file failed',
  WORKER_FAILED: 'A worker failed',
  INTERNAL: 'Internal error (a bug: please report it)',
};

export function showError(e: unknown, context?: string): void {
  const code = e instanceof HQQError ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  ui.errorTitle.textContent = (context ? `${context}: ` : '') + (ERROR_TITLES[code ?? ''] ?? 'Something went wrong');
  ui.errorMessage.textContent = message;
  ui.error.dataset.code = code ?? 'ERROR';
  ui.error.dataset.context = context ?? '';
  ui.error.hidden = false;
}

export function clearError(): void {
  ui.error.hidden = true;
  ui.errorMessage.textContent = '';
}

export function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

export function clearNotice(): void {
  ui.notice.hidden = true;
}

ui.errorClose.addEventListener('click', clearError);
