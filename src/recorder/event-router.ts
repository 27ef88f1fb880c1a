import type { AriEvent } from '../ari/types.js';
import type { Logger } from '../logger.js';
import { isOwnResource, recordingIdOf } from './ari-ids.js';
import type { Recorder } from './recorder.js';

/**
 * Turns ARI events into recording stops. What Asterisk 22 really sends decides the rules:
 * - a snoop never gets ChannelDestroyed; its StasisEnd while we are not stopping means the spied call is gone
 *   (this is also the only signal for a call that went back to the dialplan with /continue);
 * - a call's ChannelHangupRequest/ChannelDestroyed ends its recording at once;
 * - StasisEnd of a call does NOT mean hangup (a flow action's /continue sends it too);
 * - a conference ends on BridgeDestroyed, or when only our own channels are left in it; in a snooped
 *   (ConfBridge) conference a participant's snoop ending only removes that participant.
 */
export function routeAriEvent(recorder: Recorder, ev: AriEvent, log: Logger): void {
  switch (ev.type) {
    case 'StasisEnd': {
      const rid = recordingIdOf(ev.channel.id);
      const s = rid ? recorder.session(rid) : undefined;
      // Only a snoop of a live stream counts: one we are deleting ourselves (failed setup, a participant
      // removed) has already left s.streams.
      if (!s || s.ending || ![...s.streams.values()].some((st) => st.snoopId === ev.channel.id)) return;
      if (s.referenceType === 'conference') {
        // One participant of a snooped conference hung up; the conference goes on.
        for (const [channelId, tag] of s.participants) if (ev.channel.id.endsWith(`-snoop-${tag}`)) recorder.participantLeft(s.referenceId, channelId);
        return;
      }
      log.info({ recording_id: rid, channel_id: ev.channel.id }, 'snoop ended: spied call is gone');
      void s.stop('hangup').catch(() => undefined);
      return;
    }
    case 'ChannelHangupRequest':
    case 'ChannelDestroyed':
      if (!isOwnResource(ev.channel.id)) recorder.endByReference('call', ev.channel.id, 'hangup');
      return;
    case 'ChannelDtmfReceived': {
      const s = recorder.sessionFor('call', ev.channel.id);
      if (s && s.options.end_of_key && s.options.end_of_key === ev.digit) void s.stop('key').catch(() => undefined);
      return;
    }
    case 'BridgeDestroyed':
      if (!isOwnResource(ev.bridge.id)) recorder.endByReference('conference', ev.bridge.id, 'conference_end');
      return;
    case 'ChannelEnteredBridge':
      if (ev.channel && !isOwnResource(ev.channel.id) && !isOwnResource(ev.bridge.id)) recorder.participantJoined(ev.bridge.id, ev.channel.id);
      return;
    case 'ChannelLeftBridge': {
      if (isOwnResource(ev.bridge.id) || !recorder.sessionFor('conference', ev.bridge.id)) return;
      if (!isOwnResource(ev.channel.id)) recorder.participantLeft(ev.bridge.id, ev.channel.id);
      const participants = ev.bridge.channels.filter((id) => !isOwnResource(id));
      if (participants.length === 0) recorder.endByReference('conference', ev.bridge.id, 'conference_end');
      return;
    }
    default:
      return;
  }
}
