import type { AriChannel } from '../ari/types.js';
import { beepCall } from './beep.js';
import { openSnoopStream } from './capture.js';
import type { LiveRecording } from './live-recording.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';

/**
 * Sets up the capture of a call: the beep if asked, the mixer timeline, the snoop stream(s), and the call's own
 * events (hangup, DTMF for end_of_key) for the recording's lifetime — also after a flow action gives it back to the
 * dialplan, and for calls that never were in our app.
 */
export async function captureCall(live: LiveRecording, deps: { ari: RecorderPorts['ari']; settings: RecorderSettings }, channel: AriChannel, askedAt: number): Promise<void> {
  if (live.options.beep_start) await beepCall(live, deps, channel);
  await live.openMixer(live.options.beep_start ? live.now() : askedAt);
  // One snoop with both directions mixed by Asterisk (aligned by its audiohook), or one per direction (aligned
  // here by arrival time; always for a dual-channel recording: each direction is a channel of the file). Streams are
  // set up in parallel; all settle, so a failure tears down everything.
  const taps = deps.settings.callTap === 'both' && live.options.channels !== 2 ? (['both'] as const) : (['in', 'out'] as const);
  const results = await Promise.allSettled(
    taps.map(async (dir) => {
      live.addStream(dir, await openSnoopStream(deps.ari, deps.settings, { ...(await live.mixerStream(dir)), channelId: channel.id, spy: dir }));
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await live.subscribe(`channel:${channel.id}`);
}
