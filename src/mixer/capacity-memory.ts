/**
 * What admission control learned about this machine, kept across restarts: each worker's ceiling (admission.ts
 * nextCeiling), the recordings it held when it last ran over its thresholds, scaled to them. A daemon that starts
 * cold knows no load yet — recordings opened in a burst before their media flows all look free — so without this a
 * restart under a burst of starts would take them all and lose audio on every one; with it, the burst stops at what
 * this machine carried before, and the ceiling moves on from there (down at an overload, up by 5 % a report with room).
 *
 * A small JSON file (the spool directory's `mixer-capacity.json`), read once at start and written when a ceiling
 * changes. It only counts for the same machine and setup (CPU model with its family, model and stepping — a VM's
 * brand string alone names two hosts that differ by half — cores, workers, receiver, playout delay): on other
 * hardware it is ignored. A damaged or foreign file is ignored, never trusted: the worst it can do is nothing.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { cpuLabel } from '../util/cpu-identity.js';

/** What the ceilings depend on besides the load itself. */
export interface CapacityKey {
  workers: number;
  receiver: string;
  playoutDelayMs: number;
}

interface Stored extends CapacityKey {
  version: 2;
  cpuModel: string;
  cpus: number;
  /** per worker: its ceiling (null: none learned) */
  ceilings: (number | null)[];
  at: string;
}

export class CapacityMemory {
  private readonly key: Omit<Stored, 'ceilings' | 'at'>;
  private last = '';

  constructor(
    private readonly path: string,
    key: CapacityKey,
  ) {
    this.key = { version: 2, cpuModel: cpuLabel(), cpus: os.availableParallelism(), ...key };
  }

  /** Each worker's remembered ceiling (Infinity: none), or null when there is none for this machine and setup. */
  load(): number[] | null {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return null; // none yet, unreadable or not JSON
    }
    const s = raw as Partial<Stored> | null;
    if (typeof s !== 'object' || s === null || !Array.isArray(s.ceilings) || s.ceilings.length !== this.key.workers) return null;
    for (const k of Object.keys(this.key) as (keyof typeof this.key)[]) if (s[k] !== this.key[k]) return null;
    const ceilings = s.ceilings.map((c) => (c === null ? Infinity : c));
    if (!ceilings.every((c) => c === Infinity || (Number.isInteger(c) && c >= 0 && c <= 1_000_000))) return null;
    this.last = JSON.stringify(s.ceilings);
    return ceilings;
  }

  /** Keeps the ceilings (written only when they changed; atomically: a crash leaves the old file or the new one). */
  save(ceilings: number[]): void {
    const list = ceilings.map((c) => (Number.isFinite(c) ? c : null));
    const text = JSON.stringify(list);
    if (text === this.last || list.every((c) => c === null)) return;
    const stored: Stored = { ...this.key, ceilings: list, at: new Date().toISOString() };
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o640 });
    renameSync(tmp, this.path);
    this.last = text;
  }
}
