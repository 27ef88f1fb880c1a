import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { isRetryable } from '../../src/domain/errors.js';
import type { Recording } from '../../src/domain/recording.js';
import { archiveStream, buildManifest, planExport } from '../../src/export/archive.js';
import { LocalStorage } from '../../src/storage/local.js';

/**
 * A recording deleted while its export's archive is written: that attempt fails retryable (the next attempt's plan
 * lists it as deleted), not the whole export for good; the error names the recording, never its storage key.
 */
const dir = mkdtempSync(join(tmpdir(), 'export-gone-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an export whose recording is deleted under it', () => {
  it('fails the attempt retryable; the next plan leaves the recording out', async () => {
    const storage = new LocalStorage(dir);
    const recs = new Map<string, Recording>();
    for (const id of ['r1', 'r2', 'r3']) {
      const key = `cust-g/2026/12/04/${id}.wav`;
      await storage.putStream(key, Readable.from([Buffer.alloc(1000, 7)]), { contentType: 'audio/wav' });
      recs.set(id, { id, customer_id: 'cust-g', status: 'available', storage_key: key, format: 'wav', tm_create: new Date().toISOString(), reference_type: 'call', reference_id: 'c', duration_ms: 1 } as unknown as Recording);
    }
    const store = { get: async (id: string) => recs.get(id) ?? null } as never;
    const plan = await planExport({ store, storage }, 'cust-g', ['r1', 'r2', 'r3']);
    expect(plan.items.map((i) => i.rec.id)).toEqual(['r1', 'r2', 'r3']);
    const manifest = buildManifest({ id: 'e1', customer_id: 'cust-g', tm_create: new Date().toISOString() }, plan, new Date());
    // r2 is deleted (file first, as deletion.ts does) once r1 is in the archive
    const archive = archiveStream(storage, plan, manifest, async (done) => {
      if (done !== 1) return;
      await storage.delete(recs.get('r2')!.storage_key!);
      recs.set('r2', { ...recs.get('r2')!, status: 'deleted' });
    });
    const err = await storage.putStream('exports/cust-g/e1.zip', archive.stream, { contentType: 'application/zip' }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'not_found' });
    expect(isRetryable(err)).toBe(true);
    expect((err as Error).message).toContain('r2');
    expect((err as Error).message).not.toContain('cust-g/2026');
    const again = await planExport({ store, storage }, 'cust-g', ['r1', 'r2', 'r3']);
    expect(again.items.map((i) => i.rec.id)).toEqual(['r1', 'r3']);
    expect(again.notExported).toEqual([{ id: 'r2', reason: 'deleted' }]);
  });
});
