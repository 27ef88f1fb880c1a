import type { AriBridge, AriChannel } from '../ari/types.js';
import { isOwnResource } from './ari-ids.js';
import { whisperInto } from './capture.js';
import type { LiveRecording } from './live-recording.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';

/** The beep is ~250 ms; recording starts after it so the file does not open with it. */
const BEEP_MS = 300;
/** A tone needs no sound files; it plays until the whisper snoop is hung up (BEEP_MS later). */
const WHISPER_BEEP = 'tone:1000';

interface BeepDeps {
  ari: RecorderPorts['ari'];
  settings: RecorderSettings;
}

/**
 * beep_start on a call: a call in our app takes a playback; any other call (dialplan, another app) hears it through a
 * whisper snoop (both directions: the caller hears it on what the other party sends, the other party on what the
 * caller sends — a whisper rides on frames, see docs/real-asterisk.md).
 */
export function beepCall(live: LiveRecording, deps: BeepDeps, channel: AriChannel): Promise<void> {
  if (inApp(channel, deps.ari.app)) return hold(live, () => deps.ari.rest.play(channel.id, 'sound:beep'));
  return whisper(live, deps, channel.id);
}

/**
 * beep_start on a conference: an ARI bridge takes a playback every participant hears. A ConfBridge takes none; a
 * whisper into one participant is heard by that participant and, through the conference's mix, by all the others.
 */
export function beepConference(live: LiveRecording, deps: BeepDeps, bridge: AriBridge): Promise<void> {
  if (bridge.bridge_class === 'stasis') return hold(live, () => deps.ari.rest.playOnBridge(bridge.id, 'sound:beep'));
  const first = bridge.channels.find((id) => !isOwnResource(id));
  return first ? whisper(live, deps, first) : Promise.resolve();
}

/** The whisper snoop is one of the recording's own ARI objects (`rec-<id>-snoop-beep`), hung up after the beep. */
function whisper(live: LiveRecording, deps: BeepDeps, channelId: string): Promise<void> {
  const o = { recordingId: live.id, channelId, media: WHISPER_BEEP, ms: BEEP_MS, signal: live.signal };
  return hold(live, () => whisperInto(deps.ari, deps.settings, o), 0);
}

/** Plays the beep, then waits it out. A beep that cannot be played is logged; the recording goes on. */
async function hold(live: LiveRecording, play: () => Promise<unknown>, holdMs = BEEP_MS): Promise<void> {
  try {
    await play();
    await new Promise((r) => setTimeout(r, holdMs));
  } catch (err) {
    live.log.warn({ err: String(err) }, 'beep_start could not be played');
  }
}

/** In the app: its dialplan application is Stasis(<app>[,args]) (the snapshot says so). */
function inApp(channel: AriChannel, app: string): boolean {
  const dp = channel.dialplan;
  return dp?.app_name === 'Stasis' && (dp.app_data === app || (dp.app_data ?? '').startsWith(`${app},`));
}
