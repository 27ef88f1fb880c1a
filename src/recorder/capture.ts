import { AriHttpError } from '../ari/ari-rest.js';
import type { StasisExpectation } from '../ari/stasis-waiter.js';
import { AppError } from '../domain/errors.js';
import { parseRtpSource, type RtpSource } from '../media/rtp-source.js';
import { resourceId, type ResourceTag } from './ari-ids.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';

/** The ARI objects behind one RTP stream of a recording. */
export interface CapturedStream {
  streamId: string;
  emId: string;
  snoopId?: string;
  /** Our own bridge (absent when the externalMedia channel joined the conference's bridge). */
  bridgeId?: string;
}

type Ari = RecorderPorts['ari'];

/** A waiter that gives up when the recording ends, and never raises an unhandled rejection. */
/**
 * Awaits `id`'s StasisStart, registered before the channel is created; its timeout runs from `arm()`, once the
 * creating request has answered (a slow Asterisk's answer does not eat the event's time). The recording's end cancels it.
 */
function expectStasis(ari: Ari, id: string, signal?: AbortSignal): StasisExpectation {
  const e = ari.stasis.expect(id);
  const onAbort = () => e.cancel(`recording ended while waiting for channel ${id}`);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  void e.ready.catch(() => undefined).finally(() => signal?.removeEventListener('abort', onAbort));
  return e;
}

/** Tells the mixer which source a stream's RTP will come from; nothing else reaches the file. */
export type ExpectSource = (source: RtpSource) => Promise<void>;

/**
 * Creates the externalMedia channel and returns the source its RTP will come from, as Asterisk announces it
 * (UNICASTRTP_LOCAL_ADDRESS/PORT in the answer's channelvars, else read as channel variables). No announced
 * source → the stream cannot be trusted: the setup fails.
 */
async function externalMedia(ari: Ari, settings: RecorderSettings, emId: string, port: number, recordingId: string): Promise<RtpSource> {
  const ch = await ari.rest.externalMedia({
    app: ari.app,
    external_host: `${settings.rtpAdvertiseHost}:${port}`,
    format: 'slin16',
    channelId: emId,
    variables: { ARI_RECORDER_RECORDING_ID: recordingId },
  });
  const vars = ch?.channelvars ?? {};
  const announced =
    parseRtpSource(vars.UNICASTRTP_LOCAL_ADDRESS, vars.UNICASTRTP_LOCAL_PORT) ??
    parseRtpSource(await ari.rest.getVariable(emId, 'UNICASTRTP_LOCAL_ADDRESS'), await ari.rest.getVariable(emId, 'UNICASTRTP_LOCAL_PORT'));
  if (!announced) throw new AppError('SETUP_FAILED', `Asterisk did not announce the RTP source of ${emId}`);
  return announced;
}

/**
 * Snoop on a channel in one direction and bridge the snoop with an externalMedia channel that sends
 * its slin16 RTP to `port`. Waits for both StasisStarts before bridging (Asterisk answers 422 otherwise).
 * On failure, deletes what it created and rethrows.
 */
export async function openSnoopStream(
  ari: Ari,
  settings: RecorderSettings,
  o: { recordingId: string; channelId: string; spy: 'in' | 'out' | 'both'; tag: string; port: number; expectSource: ExpectSource; signal?: AbortSignal },
): Promise<CapturedStream> {
  const s: CapturedStream = {
    streamId: o.tag,
    emId: resourceId(o.recordingId, `em-${o.tag}` as ResourceTag),
    snoopId: resourceId(o.recordingId, `snoop-${o.tag}` as ResourceTag),
    bridgeId: resourceId(o.recordingId, `br-${o.tag}` as ResourceTag),
  };
  const emReady = expectStasis(ari, s.emId, o.signal);
  const snoopReady = expectStasis(ari, s.snoopId!, o.signal);
  const created: Partial<CapturedStream> = { streamId: s.streamId };
  try {
    await ari.rest.snoop(o.channelId, { spy: o.spy, app: ari.app, snoopId: s.snoopId });
    created.snoopId = s.snoopId;
    snoopReady.arm(settings.stasisTimeoutMs);
    const source = await externalMedia(ari, settings, s.emId, o.port, o.recordingId).finally(() => (created.emId = s.emId));
    emReady.arm(settings.stasisTimeoutMs);
    await o.expectSource(source);
    await ari.rest.createBridge({ type: 'mixing', bridgeId: s.bridgeId, name: s.bridgeId });
    created.bridgeId = s.bridgeId;
    await Promise.all([emReady.ready, snoopReady.ready]);
    await ari.rest.addChannel(s.bridgeId!, [s.snoopId!, s.emId]);
    return s;
  } catch (err) {
    for (const e of [emReady, snoopReady]) e.cancel('stream setup failed');
    await closeStream(ari, created as CapturedStream);
    throw err;
  }
}

/** Join an externalMedia channel to an existing Stasis bridge (ARI conference): it receives the full mix. */
export async function openBridgeStream(
  ari: Ari,
  settings: RecorderSettings,
  o: { recordingId: string; bridgeId: string; tag: string; port: number; expectSource: ExpectSource; signal?: AbortSignal },
): Promise<CapturedStream> {
  const s: CapturedStream = { streamId: o.tag, emId: resourceId(o.recordingId, `em-${o.tag}` as ResourceTag) };
  const emReady = expectStasis(ari, s.emId, o.signal);
  let created = false;
  try {
    const source = await externalMedia(ari, settings, s.emId, o.port, o.recordingId).finally(() => (created = true));
    emReady.arm(settings.stasisTimeoutMs);
    await o.expectSource(source);
    await emReady.ready;
    await ari.rest.addChannel(o.bridgeId, [s.emId]);
    return s;
  } catch (err) {
    emReady.cancel('stream setup failed');
    if (created) await closeStream(ari, s);
    throw err;
  }
}

/**
 * Plays `media` into any call for `ms` through a whisper snoop (`spy=none&whisper=both`): Asterisk plays only to
 * channels in our Stasis app, but a snoop of ours on any channel accepts playback, and both parties hear it at the
 * conversation's level (a spy on that channel does not record it). The snoop is one of the recording's own objects
 * (`rec-<id>-snoop-beep`: reconciled like the rest) and is hung up afterwards, which also ends a looping tone.
 */
export async function whisperInto(ari: Ari, settings: RecorderSettings, o: { recordingId: string; channelId: string; media: string; ms: number; signal?: AbortSignal }): Promise<void> {
  const snoopId = resourceId(o.recordingId, 'snoop-beep');
  const ready = expectStasis(ari, snoopId, o.signal);
  try {
    await ari.rest.snoop(o.channelId, { spy: 'none', whisper: 'both', app: ari.app, snoopId });
    ready.arm(settings.stasisTimeoutMs);
    await ready.ready;
    await ari.rest.play(snoopId, o.media);
    await new Promise((r) => setTimeout(r, o.ms));
  } finally {
    ready.cancel('beep done');
    await closeStream(ari, { snoopId });
  }
}

/** Deletes the stream's snoop, externalMedia channel and own bridge. Already-gone objects (404) are fine. */
export async function closeStream(ari: Ari, s: Partial<CapturedStream>): Promise<void> {
  const gone = (p: Promise<void>) =>
    p.catch((err: unknown) => {
      if (err instanceof AriHttpError && err.status === 404) return;
      throw err;
    });
  const results = await Promise.allSettled([
    s.snoopId ? gone(ari.rest.hangup(s.snoopId)) : undefined,
    s.emId ? gone(ari.rest.hangup(s.emId)) : undefined,
  ]);
  // The bridge goes last so its members leave it first (as Asterisk does on DELETE of the channels).
  const bridge = await Promise.allSettled([s.bridgeId ? gone(ari.rest.destroyBridge(s.bridgeId)) : undefined]);
  const failed = [...results, ...bridge].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
