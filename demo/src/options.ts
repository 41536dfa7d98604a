/**
 * The options form: the output format (HQQ safetensors, HQQ folder, GGUF, ONNX), the HQQ settings,
 * the GGUF preset or the ONNX MatMulNBits settings, workers and where to save. Reads them into `quantizeModel` options; an invalid
 * value is an HQQError naming the field.
 */
import { GGUF_PRESETS, HQQError, type ComputeDtype, type Nbits, type QuantizeModelOptions } from 'hqq-wasm';
import { ui } from './dom';
import type { LoadedInput, Needs, OutputFormatChoice } from './model-input';

export interface PageOptions {
  format: OutputFormatChoice;
  config: QuantizeModelOptions;
  workers: number;
  output: 'memory' | 'directory' | 'file';
}

for (const p of GGUF_PRESETS) {
  const o = document.createElement('option');
  o.value = p.name;
  o.textContent = p.name;
  o.selected = p.name === 'Q4_K_M';
  ui.ggufType.append(o);
}

export function chosenFormat(): OutputFormatChoice {
  return (ui.form.querySelector<HTMLInputElement>('input[name="format"]:checked')?.value ?? 'hqq') as OutputFormatChoice;
}

function regex(text: string, what: string): RegExp | undefined {
  if (text.trim() === '') return undefined;
  try {
    return new RegExp(text);
  } catch (e) {
    throw new HQQError('INVALID_ARGUMENT', `${what} "${text}" is not a valid regular expression: ${(e as Error).message}`);
  }
}

function hqqConfig(): QuantizeModelOptions {
  const groupText = ui.group.value.trim();
  const groupSize = Number(groupText);
  if (!/^\d+$/.test(groupText) || !Number.isSafeInteger(groupSize) || groupSize < 1) {
    throw new HQQError('INVALID_ARGUMENT', `group size "${ui.group.value}" must be a positive whole number such as 64 or 128`);
  }
  return {
    format: 'hqq',
    nbits: Number(ui.nbits.value) as Nbits,
    groupSize,
    axis: ui.axis.value === '0' ? 0 : 1,
    optimize: ui.optimize.checked,
    computeDtype: ui.dtype.value as ComputeDtype,
    include: regex(ui.include.value, 'include'),
    exclude: regex(ui.exclude.value, 'exclude'),
  };
}

/** The ONNX settings as typed: the library validates them (bits, a power-of-two block, float zeros 4-bit only). */
function onnxConfig(): QuantizeModelOptions {
  const blockText = ui.onnxBlock.value.trim();
  if (!/^\d+$/.test(blockText)) throw new HQQError('INVALID_ARGUMENT', `block size "${ui.onnxBlock.value}" must be a whole number, a power of two >= 16 such as 32`);
  return { format: 'onnx', onnx: { bits: Number(ui.onnxBits.value), blockSize: Number(blockText), zeroPoints: ui.onnxZeros.value as 'uint8' | 'float' } };
}

export function readOptions(): PageOptions {
  const workersText = ui.workers.value.trim();
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers < 1 || workers > 64) {
    throw new HQQError('INVALID_ARGUMENT', `workers "${ui.workers.value}" must be a whole number from 1 to 64`);
  }
  const format = chosenFormat();
  const config: QuantizeModelOptions = format === 'gguf'
    ? { format: 'gguf', gguf: { preset: ui.ggufType.value, allowRequantize: ui.requantize.checked || undefined } }
    : format === 'onnx' ? onnxConfig() : hqqConfig();
  const output = (ui.form.querySelector<HTMLInputElement>('input[name="output"]:checked')?.value ?? 'memory') as PageOptions['output'];
  return { format, config, workers, output };
}

let lastKind: LoadedInput['kind'] | undefined;

export const FORMAT_RADIOS: Record<OutputFormatChoice, () => HTMLInputElement> = { hqq: () => ui.fmtHqq, 'hqq-folder': () => ui.fmtHqqFolder, gguf: () => ui.fmtGguf, onnx: () => ui.fmtOnnx };

/**
 * Enables the formats the input can give (the reason next to the others), picks GGUF for a GGUF
 * input, and shows the settings of the chosen format.
 */
export function applyFormatAvailability(inp: LoadedInput | undefined, needs: Needs[] | undefined): void {
  for (const n of needs ?? []) {
    const radio = FORMAT_RADIOS[n.format]();
    radio.disabled = !n.ok;
    const missing = n.needed.filter((x) => !x.present).map((x) => x.name);
    const why = missing.length ? `needs ${missing.join(' and ')}` : '';
    if (n.format === 'hqq-folder') ui.fmtHqqFolderWhy.textContent = why ? `(${why})` : '(config.json with quantization_config, every other file copied)';
    if (n.format === 'gguf') ui.fmtGgufWhy.textContent = why ? `(${why})` : inp?.kind === 'gguf' ? '(requantize or change the type)' : '(converted from the folder as convert_hf_to_gguf does)';
    if (n.format === 'onnx') ui.fmtOnnxWhy.textContent = inp?.kind !== 'onnx' ? '(from a .onnx model)' : why ? `(${why})` : '(MatMul/Gemm weights become MatMulNBits; everything else kept)';
  }
  if (!needs) {
    ui.fmtHqqFolderWhy.textContent = '(from a folder with config.json)';
    ui.fmtGgufWhy.textContent = '(from a folder with config.json and tokenizer.json, or a .gguf)';
    ui.fmtOnnxWhy.textContent = '(from a .onnx model)';
  }
  // A GGUF gives GGUF, an ONNX model ONNX; going back to safetensors starts again from HQQ.
  if (inp?.kind === 'gguf') ui.fmtGguf.checked = true;
  else if (inp?.kind === 'onnx') ui.fmtOnnx.checked = true;
  else if (FORMAT_RADIOS[chosenFormat()]().disabled || (inp && lastKind !== undefined && lastKind !== inp.kind)) ui.fmtHqq.checked = true;
  if (inp) lastKind = inp.kind;
  showFormatSettings(inp);
}

export function showFormatSettings(inp: LoadedInput | undefined): void {
  const format = chosenFormat();
  ui.hqqOptions.hidden = format === 'gguf' || format === 'onnx';
  ui.ggufOptions.hidden = format !== 'gguf';
  ui.onnxOptions.hidden = format !== 'onnx';
  ui.requantizeLabel.hidden = inp?.kind !== 'gguf';
  if (inp?.kind !== 'gguf') ui.requantize.checked = false;
}
