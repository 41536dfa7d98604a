/**
 * Gathers the files the user gives: selected files (`<input multiple>`), a picked folder
 * (`<input webkitdirectory>`: File.webkitRelativePath), or a drop of files and folders
 * (DataTransferItem.getAsFileSystemHandle where the browser has it, else webkitGetAsEntry). Only
 * the top level of a folder is read: a Hugging Face folder keeps its model there, and sub-folders
 * (`original/` with the .pth checkpoint...) are named but not looked into. One exception: the
 * `onnx/` sub-folder, where a transformers.js model keeps its .onnx files (with config.json at the
 * top), is read too (its files are in `onnxFolder`).
 */

export interface PickedFiles {
  files: File[];
  /** The folder's name when one folder was given. */
  folderName?: string;
  /** Sub-folders that were not read. */
  subfolders: string[];
  /** The files of the folder's `onnx/` sub-folder (a transformers.js model), when it has one. */
  onnxFolder?: File[];
  label: string;
}

/** The sub-folder of a transformers.js model that holds its .onnx files. */
export const ONNX_DIR = 'onnx';

function labelOf(files: readonly File[], folderName: string | undefined): string {
  if (folderName) return `folder ${folderName}`;
  return files.length === 1 ? files[0]!.name : `${files.length} files`;
}

/** Files from an `<input type=file>`, with or without `webkitdirectory`. */
export function fromFileList(list: Iterable<File>): PickedFiles {
  const all = [...list];
  const roots = new Set(all.map((f) => f.webkitRelativePath.split('/')[0]).filter((r) => r));
  const folderName = roots.size === 1 ? [...roots][0] : undefined;
  const files: File[] = [];
  const onnx: File[] = [];
  const subfolders = new Set<string>();
  for (const f of all) {
    const parts = f.webkitRelativePath ? f.webkitRelativePath.split('/') : [f.name];
    // A picked folder lists every file below it: keep the top level (folder/name), and onnx/name.
    if (parts.length === 3 && parts[1] === ONNX_DIR) onnx.push(f);
    else if (parts.length > 2) subfolders.add(parts[1]!);
    else files.push(f);
  }
  const picked: PickedFiles = { files, folderName, subfolders: [...subfolders].sort(), label: labelOf(files, folderName) };
  if (onnx.length) picked.onnxFolder = onnx;
  return picked;
}

interface DirectoryHandle {
  kind: 'directory';
  name: string;
  entries(): AsyncIterable<[string, FileHandle | DirectoryHandle]>;
}
interface FileHandle {
  kind: 'file';
  name: string;
  getFile(): Promise<File>;
}
type ItemWithHandle = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileHandle | DirectoryHandle | null> };

interface FolderRead {
  files: File[];
  subfolders: string[];
  onnxFolder?: File[];
}

async function readDirectoryHandle(dir: DirectoryHandle, depth = 0): Promise<FolderRead> {
  const got: FolderRead = { files: [], subfolders: [] };
  for await (const [name, h] of dir.entries()) {
    if (h.kind === 'file') got.files.push(await h.getFile());
    else if (depth === 0 && name === ONNX_DIR) got.onnxFolder = (await readDirectoryHandle(h, 1)).files;
    else got.subfolders.push(name);
  }
  return got;
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function readDirectoryEntry(dir: FileSystemDirectoryEntry, depth = 0): Promise<FolderRead> {
  const reader = dir.createReader();
  const got: FolderRead = { files: [], subfolders: [] };
  // readEntries returns batches (100 in Chromium) until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.isFile) got.files.push(await entryFile(e as FileSystemFileEntry));
      else if (depth === 0 && e.name === ONNX_DIR) got.onnxFolder = (await readDirectoryEntry(e as FileSystemDirectoryEntry, 1)).files;
      else got.subfolders.push(e.name);
    }
  }
  return got;
}

type Dropped = { kind: 'file'; file: Promise<File> } | { kind: 'dir'; name: string; read: () => Promise<FolderRead> };

/**
 * Must be called synchronously inside the drop event: the browser empties the DataTransfer when the
 * handler returns, so every item's handle or entry is taken here and read afterwards.
 */
export function takeDrop(dt: DataTransfer): () => Promise<PickedFiles> {
  const taken: Promise<Dropped | undefined>[] = [];
  for (const item of [...dt.items] as ItemWithHandle[]) {
    if (item.kind !== 'file') continue;
    if (typeof item.getAsFileSystemHandle === 'function') {
      // Taken now as well: a handle can be null (a DataTransfer made by a script), the File not.
      const asFile = item.getAsFile();
      taken.push(item.getAsFileSystemHandle().then((h): Dropped | undefined => {
        if (!h) return asFile ? { kind: 'file', file: Promise.resolve(asFile) } : undefined;
        return h.kind === 'file' ? { kind: 'file', file: h.getFile() } : { kind: 'dir', name: h.name, read: () => readDirectoryHandle(h) };
      }));
      continue;
    }
    const entry = item.webkitGetAsEntry?.();
    if (entry?.isDirectory) taken.push(Promise.resolve({ kind: 'dir', name: entry.name, read: () => readDirectoryEntry(entry as FileSystemDirectoryEntry) }));
    else {
      const f = item.getAsFile();
      if (f) taken.push(Promise.resolve({ kind: 'file', file: Promise.resolve(f) }));
    }
  }
  const plain = [...dt.files];
  return async () => {
    const dropped = (await Promise.all(taken)).filter((d): d is Dropped => d !== undefined);
    if (dropped.length === 0) return { files: plain, subfolders: [], label: labelOf(plain, undefined) };
    const dirs = dropped.filter((d) => d.kind === 'dir');
    const files = await Promise.all(dropped.filter((d) => d.kind === 'file').map((d) => (d as { file: Promise<File> }).file));
    const subfolders: string[] = [];
    let folderName: string | undefined;
    let onnxFolder: File[] | undefined;
    if (dirs.length === 1 && files.length === 0) {
      // One folder dropped: its top level is the model.
      const d = dirs[0] as Extract<Dropped, { kind: 'dir' }>;
      const got = await d.read();
      files.push(...got.files);
      subfolders.push(...got.subfolders);
      onnxFolder = got.onnxFolder;
      folderName = d.name;
    } else {
      subfolders.push(...dirs.map((d) => (d as { name: string }).name));
    }
    const picked: PickedFiles = { files, folderName, subfolders, label: labelOf(files, folderName) };
    if (onnxFolder) picked.onnxFolder = onnxFolder;
    return picked;
  };
}
