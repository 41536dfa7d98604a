/**
 * Named temporaries next to Node outputs, and finding the ones that dead runs left behind
 * (docs/outputs.md). Node-only.
 *
 * Every temporary carries its owner in its name:
 *
 *     .<target>.hqq-<pid>-<host>-<id>.<kind>
 *
 * - `<target>`: the name of the output it belongs to (a file or a folder);
 * - `<pid>`: the process that made it; `<host>`: 8 hex digits of a hash of the host name. A run can
 *   only tell whether a pid is alive on its own host, so the temporaries of other hosts (a shared
 *   network folder) are never touched;
 * - `<id>`: 12 random hex digits, one per output (a folder output's `.new` and `.old` share it);
 * - `<kind>`: `partial` (a single-file output being written: renamed onto `<target>` when complete),
 *   `new` (a folder output being written: renamed onto `<target>` when complete) or `old` (the
 *   previous folder output, moved aside for the switch and removed right after it).
 *
 * A process also keeps the temporaries it owns in a registry, so that a forced exit (a second
 * signal) can remove them synchronously, and so that a run can tell its own live temporaries from
 * those of a dead earlier process that had the same pid.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export type TemporaryKind = 'partial' | 'new' | 'old';

/** The name of a folder output's completion record (see node-sink.ts). */
export const OUTPUT_MARKER = '.hqq-wasm-output.json';

let hostTagCache: string | undefined;

/** 8 hex digits identifying this host in temporary names. */
export function hostTag(): string {
  hostTagCache ??= createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  return hostTagCache;
}

/** A fresh id for one output's temporaries. */
export function newTemporaryId(): string {
  return randomBytes(6).toString('hex');
}

/** `.<target>.hqq-<pid>-<host>-<id>.<kind>` for this process. */
export function temporaryName(target: string, kind: TemporaryKind, id: string = newTemporaryId()): string {
  return `.${target}.hqq-${process.pid}-${hostTag()}-${id}.${kind}`;
}

export interface ParsedTemporary {
  /** The entry's own name. */
  entry: string;
  target: string;
  kind: TemporaryKind;
  /** Absent for the temporaries of hqq-wasm versions before this protocol (`.<target>.<12 hex>.partial`). */
  pid?: number;
  host?: string;
  id?: string;
}

const CURRENT = /^\.(.+)\.hqq-(\d+)-([0-9a-f]{8})-([0-9a-f]{12})\.(partial|new|old)$/;
const LEGACY = /^\.(.+)\.([0-9a-f]{12})\.partial$/;

/** Recognises a temporary's name; `undefined` for anything else. */
export function parseTemporaryName(entry: string): ParsedTemporary | undefined {
  const m = CURRENT.exec(entry);
  if (m) return { entry, target: m[1]!, pid: Number(m[2]), host: m[3]!, id: m[4]!, kind: m[5] as TemporaryKind };
  const l = LEGACY.exec(entry);
  if (l) return { entry, target: l[1]!, kind: 'partial' };
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// the registry of this process's live temporaries

const live = new Map<string, 'file' | 'dir'>();

/** Records a temporary this process owns (until `forgetTemporary`). */
export function registerTemporary(path: string, type: 'file' | 'dir'): void {
  live.set(path, type);
}

export function forgetTemporary(path: string): void {
  live.delete(path);
}

function isLive(path: string): boolean {
  return live.has(path);
}

/** Synchronously removes every live temporary of this process (a forced exit). Never throws. */
export function removeLiveTemporariesSync(): string[] {
  const removed: string[] = [];
  for (const [path, type] of live) {
    try {
      rmSync(path, { recursive: type === 'dir', force: true });
      removed.push(path);
    } catch {
      /* the next run removes it */
    }
  }
  live.clear();
  return removed;
}

// ------------------------------------------------------------------------------------------------
// owners

export type OwnerState = 'live' | 'dead' | 'other-host' | 'unknown';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}

/**
 * Whether the run that made `t` (found in `folder`) may still be working on it. A pid that is
 * alive counts as live even if it was reused by an unrelated process (the safe side: a leftover
 * stays until that process ends). This process's own pid is live only for registered temporaries.
 */
export function ownerState(t: ParsedTemporary, folder: string): OwnerState {
  if (t.pid === undefined) return 'unknown';
  if (t.host !== hostTag()) return 'other-host';
  if (t.pid === process.pid) return isLive(join(folder, t.entry)) ? 'live' : 'dead';
  return pidAlive(t.pid) ? 'live' : 'dead';
}

// ------------------------------------------------------------------------------------------------
// cleaning up after dead runs

/** Temporaries of earlier hqq-wasm versions (no pid in the name) count as stale after this long untouched. */
export const LEGACY_STALE_MS = 60 * 60 * 1000;

export interface CleanupResult {
  /** Paths removed. */
  removed: string[];
  /** Interrupted switches completed: the target whose new output was moved into place. */
  completed: string[];
  /** One line per action, for stderr / the report. */
  notices: string[];
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function isOurFolder(dir: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, OUTPUT_MARKER), 'utf8')) as { tool?: unknown };
    return m.tool === 'hqq-wasm';
  } catch {
    return false;
  }
}

function describe(t: ParsedTemporary): string {
  if (t.pid === undefined) return `a temporary file of an earlier hqq-wasm version`;
  const what = t.kind === 'partial' ? 'an unfinished file' : t.kind === 'new' ? 'an unfinished output folder' : 'a replaced output folder';
  return `${what} of a run (pid ${t.pid}) that ended without cleaning up`;
}

/**
 * Finds the temporaries dead runs left in `folder` and removes them; completes a folder switch
 * that a killed run left half done (its `.old` exists, the target is missing and its complete
 * `.new` is there: the new output is moved into place). Temporaries of live runs (this process's
 * registered ones, live pids, other hosts, recent ones of earlier versions) are left alone.
 * Best effort: what cannot be removed is reported and left for a later run.
 */
export async function cleanStaleTemporaries(folder: string): Promise<CleanupResult> {
  const result: CleanupResult = { removed: [], completed: [], notices: [] };
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return result; // a missing folder has nothing to clean
  }
  const stale: ParsedTemporary[] = [];
  for (const entry of entries) {
    const t = parseTemporaryName(entry);
    if (!t) continue;
    const state = ownerState(t, folder);
    if (state === 'dead') stale.push(t);
    else if (state === 'unknown') {
      try {
        if (Date.now() - (await lstat(join(folder, entry))).mtimeMs > LEGACY_STALE_MS) stale.push(t);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  const remove = async (t: ParsedTemporary) => {
    const p = join(folder, t.entry);
    try {
      await rm(p, { recursive: true, force: true });
      result.removed.push(p);
      result.notices.push(`removed ${p}: ${describe(t)}`);
    } catch (e) {
      result.notices.push(`could not remove ${p} (${(e as Error).message}): ${describe(t)}; remove it by hand`);
    }
  };
  // A switch interrupted between its two renames (the target is missing, its previous output is
  // the `.old`): complete it with the `.new` of the same output before anything is removed.
  for (const old of stale.filter((t) => t.kind === 'old')) {
    const target = join(folder, old.target);
    if (await exists(target)) continue; // the switch happened; only the removal of .old was cut short
    const fresh = stale.find((t) => t.kind === 'new' && t.id === old.id && t.target === old.target);
    if (!fresh) continue; // the switch happened and the output was deleted since: .old is obsolete
    const complete = await isOurFolder(join(folder, fresh.entry));
    // The protocol only moves the old output aside once the new one is complete, so `complete` is
    // always true; if it were not, the old output goes back in place.
    const from = complete ? fresh : old;
    try {
      await rename(join(folder, from.entry), target);
      stale.splice(stale.indexOf(from), 1);
      result.completed.push(target);
      result.notices.push(complete
        ? `completed the switch to the new output ${target} that a killed run (pid ${old.pid}) had left half done`
        : `put the previous output back at ${target}: a killed run (pid ${old.pid}) had moved it aside`);
    } catch (e) {
      result.notices.push(`could not complete the interrupted switch of ${target} (${(e as Error).message}); the new output is ${join(folder, fresh.entry)}, the previous one ${join(folder, old.entry)}`);
      stale.splice(stale.indexOf(fresh), 1);
      stale.splice(stale.indexOf(old), 1);
    }
  }
  for (const t of stale) await remove(t);
  return result;
}
