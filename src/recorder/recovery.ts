import { AriHttpError } from '../ari/ari-rest.js';
import { clientMessage, isAppError } from '../domain/errors.js';
import type { Recording } from '../domain/recording.js';
import { recordingIdOf } from './ari-ids.js';
import type { RecorderPorts } from './ports.js';
import { storageKey } from '../domain/storage-key.js';
import { lastAudioAt } from '../spool/spool.js';

/**
 * At start-up, recordings the store still calls active belong to a daemon that died (kill -9, power loss):
 * nothing in this process owns them. Their spool file is repaired from its length (at most ~1 s lost, the
 * flush interval) and uploaded, with `tm_end` the time of the last audio the file holds (see lastAudioAt), not the
 * restart time; the ARI objects they left in Asterisk are deleted. Recordings already in `stopping` only need their
 * upload job again (BullMQ keeps it; re-adding is idempotent). Spool files no active recording owns are cleaned last
 * (cleanSpool).
 */
export async function recoverInterrupted(ports: RecorderPorts, nodeId: string): Promise<Recording[]> {
  const { store, logger, spool } = ports;
  // Only this node's own (and those of versions before node ids, made by a single daemon): the other nodes of the
  // fleet are recording theirs right now.
  const active = (await store.listActive()).filter((r) => r.node_id === undefined || r.node_id === nodeId);
  const recovered: Recording[] = [];
  for (const rec of active) {
    const log = logger.child({ recording_id: rec.id });
    try {
      // A `stopping` one without its file still gets its upload job: the job fails it (recording_file_lost) when
      // none is left from before, instead of it sitting in `stopping` for ever.
      if (rec.status !== 'stopping' && !(await spool.exists(rec.id))) {
        recovered.push(await store.transition(rec.id, 'failed', { stop_reason: 'error', error: { code: 'spool_file_lost', message: 'the daemon stopped before any audio was written' } }));
        ports.metrics?.recordingFailed('spool_file_lost');
        continue;
      }
      if (rec.status !== 'stopping') {
        const fixed = await spool.repair(rec.id, { sampleRate: rec.sample_rate ?? 8000, channels: rec.channels ?? 1 });
        const tmEnd = lastAudioAt(fixed, rec.tm_start).toISOString();
        // last_error goes with the transition, so its recording_finished event says why
        const last_error = { code: 'daemon_restarted' as const, message: 'recording interrupted by a daemon restart; the spool file was repaired' };
        await store.transition(rec.id, 'stopping', { stop_reason: 'error', tm_end: tmEnd, duration_ms: fixed.durationMs, size_bytes: fixed.sizeBytes, last_error });
        log.warn({ duration_ms: fixed.durationMs, repaired: fixed.repaired }, 'interrupted recording repaired');
      }
      let key: string;
      try {
        key = storageKey(rec);
      } catch (err) {
        // e.g. a recording an older version gave the customer "": it can never be stored, so it fails now (the
        // spool file stays for a human) instead of sitting in `stopping` for ever.
        if (!(isAppError(err) && err.code === 'invalid_storage_key')) throw err;
        recovered.push(await store.transition(rec.id, 'failed', { error: { code: err.code, message: clientMessage(err) } }));
        ports.metrics?.recordingFailed(err.code);
        log.error({ code: err.code }, 'interrupted recording can never be stored: failed');
        continue;
      }
      await ports.uploads.enqueueUpload({ recording_id: rec.id, storage_key: key });
      recovered.push((await store.get(rec.id)) ?? rec);
    } catch (err) {
      log.error({ err }, 'interrupted recording could not be recovered');
    }
  }
  const activeIds = new Set(active.map((r) => r.id));
  await deleteLeftovers(ports, activeIds);
  await cleanSpool(ports, activeIds);
  return recovered;
}

/**
 * Spool files no active recording owns, at start-up (nothing records yet): a file whose recording is `available` or
 * `deleted` is a leftover of a crash between that transition and the delete, and is removed. Any other (a `failed`
 * recording's audio, a file the store knows nothing about) is kept for a human and reported: audio is never deleted
 * unless it is stored or its recording was deleted.
 */
async function cleanSpool(ports: RecorderPorts, activeIds: Set<string>): Promise<void> {
  const { spool, store, logger } = ports;
  try {
    for (const orphan of await spool.listOrphans(activeIds)) {
      const log = logger.child({ recording_id: orphan.id });
      const rec = await store.get(orphan.id);
      if (rec?.status === 'available' || rec?.status === 'deleted') {
        await spool.remove(orphan.id);
        log.info({ status: rec.status }, 'leftover spool file removed');
      } else {
        log.warn({ status: rec?.status ?? 'unknown', size_bytes: orphan.sizeBytes }, 'spool file kept: no active recording owns it');
      }
    }
  } catch (err) {
    logger.warn({ err: String(err) }, 'spool cleanup incomplete');
  }
}

/** Deletes the snoops, externalMedia channels and bridges that belong to the given (dead) recordings. */
async function deleteLeftovers(ports: RecorderPorts, recordingIds: Set<string>): Promise<void> {
  if (recordingIds.size === 0) return;
  const { rest } = ports.ari;
  const ours = (id: string) => {
    const rid = recordingIdOf(id);
    return rid !== null && recordingIds.has(rid);
  };
  const ignore404 = (err: unknown) => {
    if (!(err instanceof AriHttpError && err.status === 404)) ports.logger.warn({ err: String(err) }, 'leftover cleanup failed');
  };
  try {
    const [channels, bridges] = await Promise.all([rest.listChannels(), rest.listBridges()]);
    await Promise.all(channels.filter((c) => ours(c.id)).map((c) => rest.hangup(c.id).catch(ignore404)));
    await Promise.all(bridges.filter((b) => ours(b.id)).map((b) => rest.destroyBridge(b.id).catch(ignore404)));
  } catch (err) {
    ports.logger.warn({ err: String(err) }, 'could not list Asterisk objects for cleanup');
  }
}
