import type { AriRest } from '../ari/ari-rest.js';
import type { AriEventOf } from '../ari/types.js';
import { AppError, isAppError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { RecorderApi } from '../recorder/types.js';
import { channelOwner } from '../recorder/ownership.js';
import { parseFlowArgs } from './flow-args.js';

export interface FlowDeps {
  recorder: RecorderApi;
  rest: Pick<AriRest, 'continueInDialplan' | 'setVariable'>;
  defaultCustomerId: string;
  logger: Logger;
}

/**
 * `Stasis(app,recording_start|recording_stop|recording_pause|recording_resume[,opts])`: act on the calling channel, then give it
 * back to the dialplan at once, whatever the outcome — a recording problem must never hold a caller in Stasis.
 * The snoops keep working after /continue (measured on Asterisk 22), and the snoop's StasisEnd reports the hangup.
 */
export async function handleFlowStasisStart(ev: AriEventOf<'StasisStart'>, deps: FlowDeps): Promise<void> {
  const channelId = ev.channel.id;
  const log = deps.logger.child({ call_id: channelId, flow: ev.args[0] });
  let action;
  try {
    action = parseFlowArgs(ev.args);
  } catch (err) {
    log.warn({ code: isAppError(err) ? err.code : undefined, err: (err as Error).message }, 'flow action rejected');
    await continueChannel(deps, channelId, log);
    return;
  }
  if (!action) return; // not ours to handle: a channel that entered the app for another reason
  let customerId: string;
  try {
    customerId = await flowOwner(ev.channel, action.customerId, deps);
  } catch (err) {
    log.warn({ code: isAppError(err) ? err.code : undefined, err: (err as Error).message }, 'flow action rejected: the call goes on unrecorded');
    await continueChannel(deps, channelId, log);
    return;
  }
  try {
    if (action.action === 'recording_start') {
      const call = await deps.recorder.startCall(channelId, customerId, action.options);
      log.info({ recording_id: call.recording_id }, 'flow recording_start done');
    } else if (action.action === 'recording_pause') {
      await deps.recorder.pauseCall(channelId, customerId, action.behavior);
      log.info({ behavior: action.behavior }, 'flow recording_pause done');
    } else if (action.action === 'recording_resume') {
      await deps.recorder.resumeCall(channelId, customerId);
      log.info('flow recording_resume done');
    } else {
      await deps.recorder.stopCall(channelId, customerId, 'flow');
      log.info('flow recording_stop done');
    }
  } catch (err) {
    log.warn({ code: isAppError(err) ? err.code : undefined, err: (err as Error).message }, 'flow action failed');
  }
  await continueChannel(deps, channelId, log);
}

/**
 * Whose call this is. The channel's CUSTOMER_ID decides (else the default customer). `customer_id=` in the flow names
 * the owner of a channel that has none: it is set as the channel's CUSTOMER_ID first, so the call is that customer's
 * for the API and later flow actions too. One naming another customer than the channel's is refused: a call has one
 * owner, and its audio must not reach another customer's account.
 */
async function flowOwner(channel: AriEventOf<'StasisStart'>['channel'], named: string | undefined, deps: FlowDeps): Promise<string> {
  const owner = channelOwner(channel);
  if (named === undefined || named === owner) return owner ?? deps.defaultCustomerId;
  if (owner !== undefined) {
    throw new AppError('VALIDATION', `customer_id ${named} is not the call's owner (its CUSTOMER_ID is ${owner})`, { field: 'customer_id' });
  }
  await deps.rest.setVariable(channel.id, 'CUSTOMER_ID', named);
  return named;
}

async function continueChannel(deps: FlowDeps, channelId: string, log: Logger): Promise<void> {
  try {
    await deps.rest.continueInDialplan(channelId);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'continue to dialplan failed');
  }
}
