import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExportProcessor } from '../../src/jobs/export.js';
import { sweepAll } from '../../src/jobs/retention.js';
import { createHttpHarness, CUST_A, TOKENS, type HttpHarness } from '../helpers/fakes.js';

/**
 * Deletion means gone: deleting or expiring a recording deletes every export archive that holds it (the export
 * answers 410 export_deleted), archives have their own retention (410 export_expired), and a listing of the storage
 * afterwards holds no file that no live record names.
 */
describe('deletion reaches every copy', () => {
  let h: HttpHarness;
  const A = { authorization: `Bearer ${TOKENS.aAll}` };
  const webhooks = { publish: async () => 'evt' };
  const logger = pino({ level: 'silent' });
  beforeAll(async () => {
    h = await createHttpHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Every file in local storage (metadata and temp folders left out). */
  function storedFiles(): string[] {
    const root = h.storage.root;
    const out: string[] = [];
    const walk = (d: string, rel: string) => {
      for (const name of readdirSync(d)) {
        if (rel === '' && name.startsWith('.')) continue;
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
        else out.push(`${rel}${name}`);
      }
    };
    walk(root, '');
    return out.sort();
  }

  async function exportOf(ids: string[], now = () => new Date()): Promise<string> {
    const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: ids } });
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    const run = createExportProcessor({ store: h.store, exports: h.exports, storage: h.storage, webhooks, logger, now, retentionDays: 7 });
    await run({ id: `j-${id}`, data: { export_id: id }, attemptsMade: 0, opts: { attempts: 1 } });
    expect((await h.exports.get(id))?.status).toBe('completed');
    return id;
  }

  const getExport = (id: string) => h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${id}`, headers: A });
  const getArchive = (id: string) => h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${id}/file`, headers: A });

  it('DELETE of a recording deletes every archive that holds it; others stay', async () => {
    const [r1, r2] = [await h.recording(CUST_A, 'available'), await h.recording(CUST_A, 'available')];
    const both = await exportOf([r1.id, r2.id]);
    const onlyR2 = await exportOf([r2.id]);
    expect((await getArchive(both)).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${r1.id}`, headers: A })).statusCode).toBe(200);
    const gone = await getExport(both);
    expect(gone.statusCode).toBe(410);
    expect(gone.json().code).toBe('export_deleted');
    expect((await getArchive(both)).statusCode).toBe(410);
    expect((await getArchive(onlyR2)).statusCode).toBe(200);
    const files = storedFiles();
    expect(files.some((f) => f.includes(r1.id))).toBe(false);
    expect(files.some((f) => f.includes(both))).toBe(false);
    expect(files.some((f) => f.includes(onlyR2))).toBe(true);
  });

  it('retention of a recording deletes the archives holding it; archives expire on their own; nothing is left', async () => {
    const r = await h.recording(CUST_A, 'available', { expireAt: new Date(Date.now() - 1000) }); // its retention is over
    const ex = await exportOf([r.id]);
    const other = await h.recording(CUST_A, 'available', { expireAt: new Date(Date.now() + 86_400_000) });
    const expiring = await exportOf([other.id], () => new Date(Date.now() - 8 * 86_400_000)); // built 8 days ago
    const swept = await sweepAll({ store: h.store, storage: h.storage, exports: h.exports, logger });
    expect(swept).toEqual({ recordings: 1, exports: 1, metadata: 0 });
    expect((await h.store.get(other.id))?.status).toBe('available');
    const byRetention = await getExport(ex);
    expect(byRetention.statusCode).toBe(410);
    const expired = await getExport(expiring);
    expect(expired.statusCode).toBe(410);
    expect(expired.json().code).toBe('export_expired');
    expect((await getArchive(expiring)).statusCode).toBe(410);
    // The storage holds no file whose every record is gone: every stored file is named by a live record.
    const live = new Set<string>();
    for (const f of storedFiles()) {
      const recId = /([0-9a-f-]{36})\.wav$/.exec(f)?.[1];
      const expId = /([0-9a-f-]{36})\.zip$/.exec(f)?.[1];
      if (recId) expect((await h.store.get(recId))?.status, f).toBe('available');
      if (expId) expect((await h.exports.get(expId))?.status, f).toBe('completed');
      live.add(f);
    }
    expect([...live].some((f) => f.includes(r.id) || f.includes(ex) || f.includes(expiring))).toBe(false);
  });
});
