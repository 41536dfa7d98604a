/**
 * Gathers the files the user gives: selected files (`<input multiple>`), a picked folder
 * (`<input webkitdirectory>`: File.webkitRelativePath), or a drop of files and folders
 * (DataTransferItem.getAsFileSystemHandle where the browser has it, else webkitGetAsEntry). Only
 * the top level of a folder is read: a Hugging Face folder keeps its model there, and sub-folders
 * (`original/` with the .pth checkpoint...) are named but not looked into.
 */

export interface PickedFiles {
  files: File[];
  /** The folder's name when one folder was given. */
  folderName?: string;
  /** Sub-folders that were not read. */
  subfolders: string[];
  label: string;
}

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
  const subfolders = new Set<string>();
  for (const f of all) {
    const parts = f.webkitRelativePath ? f.webkitRelativePath.split('/') : [f.name];
    // A picked folder lists every file below it: keep the top level (folder/name).
    if (parts.length > 2) subfolders.add(parts[1]!);
    else files.push(f);
  }
  return { files, folderName, subfolders: [...subfolders].sort(), label: labelOf(files, folderName) };
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

async function readDirectoryHandle(dir: DirectoryHandle): Promise<{ files: File[]; subfolders: string[] }> {
  const files: File[] = [];
  const subfolders: string[] = [];
  for await (const [name, h] of dir.entries()) {
    if (h.kind === 'file') files.push(await h.getFile());
    else subfolders.push(name);
  }
  return { files, subfolders };
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function readDirectoryEntry(dir: FileSystemDirectoryEntry): Promise<{ files: File[]; subfolders: string[] }> {
  const reader = dir.createReader();
  const files: File[] = [];
  const subfolders: string[] = [];
  // readEntries returns batches (100 in Chromium) until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.isFile) files.push(await entryFile(e as FileSystemFileEntry));
      else subfolders.push(e.name);
    }
  }
  return { files, subfolders };
}

type Dropped = { kind: 'file'; file: Promise<File> } | { kind: 'dir'; name: string; read: () => Promise<{ files: File[]; subfolders: string[] }> };

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
    if (dirs.length === 1 && files.length === 0) {
      // One folder dropped: its top level is the model.
      const d = dirs[0] as Extract<Dropped, { kind: 'dir' }>;
      const got = await d.read();
      files.push(...got.files);
      subfolders.push(...got.subfolders);
      folderName = d.name;
    } else {
      subfolders.push(...dirs.map((d) => (d as { name: string }).name));
    }
    return { files, folderName, subfolders, label: labelOf(files, folderName) };
  };
}
