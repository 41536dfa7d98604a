/** The page's state, shared by its modules (one page, one model at a time). */
import type { BrowserSink, HQQ, ModelProgressEvent, QuantizeModelReport } from 'hqq-wasm';
import type { LoadedInput, Needs } from './model-input';

export interface RunState {
  controller: AbortController;
  sink: BrowserSink;
  started: number;
  inFlight: Set<string>;
  last?: ModelProgressEvent;
}

export const app: {
  hqq?: HQQ;
  input?: LoadedInput;
  needs?: Needs[];
  running?: RunState;
  /** The last run's (or preview's) report and the input its numbers belong to. */
  shown?: { report: QuantizeModelReport; final: boolean; input: LoadedInput };
  ready: { engine: boolean; sample: boolean; inspector: boolean; pool: boolean };
} = { ready: { engine: false, sample: false, inspector: false, pool: false } };
