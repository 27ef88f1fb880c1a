/**
 * The spool: the local directory where a recording's WAV is written while it records (by the mixer worker), and
 * kept until the upload job has it verified in storage. This module is the only one that turns a recording id into
 * a path, repairs a file left by a crash, deletes a spool file or lists what lies there.
 *
 * Layout: one flat directory, one file per recording, `<dir>/<recording id>.wav`. A recording id is a uuid
 * (domain/recording-id.ts); anything else is refused before it reaches the file system, so no id, job payload or
 * stored value can name a file outside the directory or another recording's file.
 */
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repairWav } from '../audio/wav-repair.js';
import { AppError } from '../domain/errors.js';
import { isRecordingId } from '../domain/recording-id.js';

const SUFFIX = '.wav';

/** A spool file after repair (see Spool.repair). */
export interface SpoolFile {
  id: string;
  path: string;
  /** True when the repair changed the file (it was left unfinished by a crash or a dead mixer worker). */
  repaired: boolean;
  dataBytes: number;
  /** Whole file size after repair. */
  sizeBytes: number;
  /** Audio the file holds, in ms (8 kHz mono 16-bit: dataBytes / 16). */
  durationMs: number;
  /** mtime of the file before the repair touched it: when its writer last wrote to it (epoch ms). */
  writtenAtMs: number;
}

/** A spool file no live recording owns (Spool.listOrphans). */
export interface SpoolEntry {
  id: string;
  path: string;
  sizeBytes: number;
  mtimeMs: number;
}

export class Spool {
  /** Absolute path of the directory. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Creates the directory (and its parents) if missing. */
  async create(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  /** The spool file of a recording. Throws VALIDATION for anything that is not a recording id. */
  pathOf(recordingId: string): string {
    if (!isRecordingId(recordingId)) throw new AppError('VALIDATION', `not a recording id: ${JSON.stringify(String(recordingId).slice(0, 64))}`);
    return join(this.dir, `${recordingId}${SUFFIX}`);
  }

  /**
   * The recording whose spool file `path` is, or null when `path` is not exactly such a file of this spool (another
   * directory, a traversal, a name that is not `<uuid>.wav`). Relative paths are taken from the working directory.
   */
  idOfPath(path: string): string | null {
    if (typeof path !== 'string' || path.includes('\0')) return null;
    const abs = resolve(path);
    const prefix = this.dir.endsWith('/') ? this.dir : `${this.dir}/`;
    if (!abs.startsWith(prefix)) return null;
    const name = abs.slice(prefix.length);
    if (!name.endsWith(SUFFIX)) return null;
    const id = name.slice(0, -SUFFIX.length);
    return isRecordingId(id) ? id : null;
  }

  /** True when the recording has a spool file. */
  async exists(recordingId: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(recordingId))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Makes the recording's file a valid WAV again from its length (wav-repair.ts): what the writer flushed before a
   * crash (at most ~1 s lost) is kept; a finished file is left as it is. `format` is the recording's: a header the
   * crash left blank is rebuilt with it. Rejects with ENOENT when there is no file.
   */
  async repair(recordingId: string, format: { sampleRate: number; channels: number }): Promise<SpoolFile> {
    const path = this.pathOf(recordingId);
    const before = await stat(path);
    const r = await repairWav(path, format);
    const after = r.repaired ? await stat(path) : before;
    return { id: recordingId, path, repaired: r.repaired, dataBytes: r.dataBytes, sizeBytes: after.size, durationMs: r.durationMs, writtenAtMs: before.mtimeMs };
  }

  /**
   * Deletes a recording's spool file, given its id or its path (a path must be one of this spool's files, see
   * idOfPath, or this throws VALIDATION). Idempotent: true when a file was deleted, false when there was none.
   */
  async remove(recordingIdOrPath: string): Promise<boolean> {
    const id = isRecordingId(recordingIdOrPath) ? recordingIdOrPath : this.idOfPath(recordingIdOrPath);
    if (id === null) throw new AppError('VALIDATION', 'not a spool file');
    try {
      await unlink(this.pathOf(id));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Spool files (`<uuid>.wav`) of recordings not in `liveIds`, sorted by name: what a crash left behind (a file
   * whose upload finished but was not yet deleted, a recording that failed, a file of a recording the store no longer
   * knows). Other names are not ours and are not listed. A missing directory has no orphans.
   */
  async listOrphans(liveIds: Iterable<string>): Promise<SpoolEntry[]> {
    const live = new Set(liveIds);
    let names: string[];
    try {
      names = (await readdir(this.dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const orphans: SpoolEntry[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(SUFFIX)) continue;
      const id = name.slice(0, -SUFFIX.length);
      if (!isRecordingId(id) || live.has(id)) continue;
      const path = join(this.dir, name);
      try {
        const st = await stat(path);
        orphans.push({ id, path, sizeBytes: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        if (!isNotFound(err)) throw err; // deleted meanwhile (an upload finishing): not an orphan any more
      }
    }
    return orphans;
  }
}

/**
 * When the last audio of an interrupted recording was recorded: its `tm_end` after a crash (not the restart time).
 *
 * The file holds the recording's timeline from `tm_start` on, one 20 ms slot after the other with no hole: the mixer
 * (mixer/recording-pipeline.ts) plays slot k out at wall time tm_start + (k+1)·20 ms + playout delay and writes
 * silence for a slot nobody sent audio for, so a gap in the media is a gap of silence in the file, never a shorter
 * file. The duration of the repaired file is therefore exactly the wall time its audio covers, and the last audio
 * written was recorded at tm_start + duration.
 *
 * The file's mtime is not used when tm_start is known: it trails the audio by the playout delay and up to a flush
 * interval, it is a file-system timestamp (granularity, a copied or restored spool, a clock step), and any later
 * write (a repair, a second restart) moves it. It is the fallback only for a recording that died in `starting`
 * (the mixer may have written before tm_start was stored): then `writtenAtMs`, the mtime read before the repair,
 * is the best the disk can tell.
 */
export function lastAudioAt(file: Pick<SpoolFile, 'durationMs' | 'writtenAtMs'>, tmStart?: string): Date {
  const start = tmStart === undefined ? NaN : Date.parse(tmStart);
  if (Number.isFinite(start)) return new Date(Math.round(start + file.durationMs));
  return new Date(Math.round(file.writtenAtMs));
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
