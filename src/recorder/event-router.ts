import type { AriEvent } from '../ari/types.js';
import { handleFlowStasisStart, type FlowDeps } from '../flow/flow-actions.js';
import type { Logger } from '../logger.js';
import { isOwnResource, recordingIdOf } from './ari-ids.js';
import type { Recorder } from './recorder.js';

/**
 * Turns ARI events into recording stops. What Asterisk 22 really sends decides the rules:
 * - a snoop never gets ChannelDestroyed; its StasisEnd while we are not stopping means the spied call is gone
 *   (this is also the only signal for a call that went back to the dialplan with /continue);
 * - a call's ChannelHangupRequest/ChannelDestroyed ends its recording at once;
 * - StasisEnd of a call does NOT mean hangup (a flow action's /continue sends it too);
 * - a conference ends on BridgeDestroyed, when only our own channels are left in it, or when our externalMedia
 *   channel is ejected from it (we subscribe to the bridge, but Asterisk's ejection order decides what else we see); in a snooped
 *   (ConfBridge) conference a participant's snoop ending only removes that participant;
 * - a StasisStart with arguments is a flow action (`Stasis(app,recording_start…)`).
 * The one place ARI events enter the recorder.
 */
export function routeAriEvent(ev: AriEvent, deps: { recorder: Recorder; flow: FlowDeps; logger: Logger }): void {
  const { recorder, logger: log } = deps;
  switch (ev.type) {
    case 'StasisStart':
      if (ev.args.length > 0) void handleFlowStasisStart(ev, deps.flow);
      return;
    case 'StasisEnd': {
      const rid = recordingIdOf(ev.channel.id);
      const s = rid ? recorder.recording(rid) : undefined;
      // Only a snoop of a live stream counts: one we are deleting ourselves (failed setup, a participant
      // removed) is no longer among its streams.
      if (!s || s.ending || !s.ownsSnoop(ev.channel.id)) return;
      if (s.conference) {
        // One participant of a snooped conference hung up; the conference goes on.
        s.conference.snoopEnded(ev.channel.id);
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
    case 'ChannelDtmfReceived':
      recorder.keyPressed(ev.channel.id, ev.digit);
      return;
    case 'BridgeDestroyed':
      if (!isOwnResource(ev.bridge.id)) recorder.endByReference('conference', ev.bridge.id, 'conference_end');
      return;
    case 'ChannelEnteredBridge':
      if (ev.channel && !isOwnResource(ev.channel.id) && !isOwnResource(ev.bridge.id)) recorder.participantJoined(ev.bridge.id, ev.channel.id);
      return;
    case 'ChannelLeftBridge': {
      if (isOwnResource(ev.bridge.id)) return;
      const s = recorder.recordingFor('conference', ev.bridge.id);
      if (!s) return;
      if (isOwnResource(ev.channel.id)) {
        // Our externalMedia channel left a conference bridge while we were not stopping: the bridge is going away
        // (Asterisk ejects members in its own order; once ours is out, its other events may not reach us).
        if (recordingIdOf(ev.channel.id) === s.id && !s.ending) {
          log.info({ recording_id: s.id, conference_id: ev.bridge.id }, 'our channel left the conference bridge: conference over');
          void s.stop('conference_end').catch(() => undefined);
        }
        return;
      }
      recorder.participantLeft(ev.bridge.id, ev.channel.id);
      const participants = ev.bridge.channels.filter((id) => !isOwnResource(id));
      if (participants.length === 0) recorder.endByReference('conference', ev.bridge.id, 'conference_end');
      return;
    }
    default:
      return;
  }
}
