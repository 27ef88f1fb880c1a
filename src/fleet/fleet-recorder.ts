import { AppError, isAppError } from '../domain/errors.js';
import type { RecordingOptions, ReferenceType, StopReason } from '../domain/recording.js';
import type { Logger } from '../logger.js';
import type { Recorder } from '../recorder/recorder.js';
import type { PauseBehavior, RecorderApi } from '../recorder/types.js';
import type { RecordingStore, ReferenceRecord } from '../store/types.js';
import type { CommandBus } from './command-bus.js';
import type { NodeInfo } from './node-registry.js';

type LiveNode = NodeInfo & { lease_age_ms: number };

/** The operations one node may run for another (the RecorderApi, and whether its Asterisk has a reference). */
const OPS = [
  'startCall',
  'stopCall',
  'getCall',
  'startConference',
  'stopConference',
  'getConference',
  'pauseCall',
  'resumeCall',
  'pauseConference',
  'resumeConference',
  'has',
] as const;
type Op = (typeof OPS)[number];

/**
 * The RecorderApi of a fleet: any node's API acts on any call or conference. A reference recorded here, or on this
 * node's Asterisk, is handled here; one with an active recording elsewhere goes to the node that records it (the
 * recording's node_id); one this Asterisk does not know goes to the node whose Asterisk has it: by the channel id's
 * systemname prefix, else by asking the live nodes. A node that does not answer: 503 node_unavailable.
 */
export class FleetRecorder implements RecorderApi {
  constructor(
    private readonly local: Recorder,
    private readonly deps: {
      bus: CommandBus;
      store: RecordingStore;
      nodes: () => Promise<LiveNode[]>;
      /** a node whose lease is older is not asked */
      leaseMs: number;
      logger: Logger;
    },
  ) {}

  /** Runs a command another node sent (CommandBus handler). */
  handle = async (op: string, args: unknown[]): Promise<unknown> => {
    if (!(OPS as readonly string[]).includes(op)) throw new AppError('VALIDATION', `unknown node command ${op}`);
    const [type, id] = args as [ReferenceType, string];
    if (op === 'has') return this.local.hasOnAsterisk(type, id);
    const fn = this.local[op as Exclude<Op, 'has'>] as (...a: unknown[]) => Promise<unknown>;
    return fn.apply(this.local, args);
  };

  startCall(callId: string, customerId: string, options: RecordingOptions, atMs?: number): Promise<ReferenceRecord> {
    return this.#onAsterisk('call', callId, 'startCall', [callId, customerId, options, atMs], () => this.local.startCall(callId, customerId, options, atMs));
  }

  startConference(confId: string, customerId: string, options: RecordingOptions, atMs?: number): Promise<ReferenceRecord> {
    return this.#onAsterisk('conference', confId, 'startConference', [confId, customerId, options, atMs], () => this.local.startConference(confId, customerId, options, atMs));
  }

  stopCall(callId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('call', callId, 'stopCall', [callId, customerId, reason, atMs], () => this.local.stopCall(callId, customerId, reason, atMs));
  }

  stopConference(confId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('conference', confId, 'stopConference', [confId, customerId, reason, atMs], () => this.local.stopConference(confId, customerId, reason, atMs));
  }

  // Pause and resume: where the active recording is, as a stop.
  pauseCall(callId: string, customerId: string, behavior: PauseBehavior, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('call', callId, 'pauseCall', [callId, customerId, behavior, atMs], () => this.local.pauseCall(callId, customerId, behavior, atMs));
  }

  resumeCall(callId: string, customerId: string, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('call', callId, 'resumeCall', [callId, customerId, atMs], () => this.local.resumeCall(callId, customerId, atMs));
  }

  pauseConference(confId: string, customerId: string, behavior: PauseBehavior, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('conference', confId, 'pauseConference', [confId, customerId, behavior, atMs], () => this.local.pauseConference(confId, customerId, behavior, atMs));
  }

  resumeConference(confId: string, customerId: string, atMs?: number): Promise<ReferenceRecord> {
    return this.#whereRecorded('conference', confId, 'resumeConference', [confId, customerId, atMs], () => this.local.resumeConference(confId, customerId, atMs));
  }

  getCall(callId: string, customerId: string): Promise<ReferenceRecord> {
    return this.#onAsterisk('call', callId, 'getCall', [callId, customerId], () => this.#liveHere('call', callId, 'getCall', [callId, customerId]));
  }

  getConference(confId: string, customerId: string): Promise<ReferenceRecord> {
    return this.#onAsterisk('conference', confId, 'getConference', [confId, customerId], () =>
      this.#liveHere('conference', confId, 'getConference', [confId, customerId]),
    );
  }

  /**
   * A get answered here from the store says `hangup`/`ended` when this Asterisk lacks the object: it may live on
   * another node's Asterisk (ids without a systemname); that node's answer has the live status.
   */
  async #liveHere(type: ReferenceType, id: string, op: 'getCall' | 'getConference', args: [string, string]): Promise<ReferenceRecord> {
    const ref = await (op === 'getCall' ? this.local.getCall(...args) : this.local.getConference(...args));
    if (ref.status !== 'hangup' && ref.status !== 'ended') return ref;
    const owner = await this.#askWhoHas(type, id);
    return owner ? this.deps.bus.ask<ReferenceRecord>(owner, op, args) : ref;
  }

  /** The node (not this one) whose Asterisk has the object, or null. */
  async #askWhoHas(type: ReferenceType, id: string): Promise<string | null> {
    const others = (await this.deps.nodes()).filter((n) => n.id !== this.deps.bus.nodeId && n.lease_age_ms <= this.deps.leaseMs);
    const answers = await Promise.all(others.map((n) => this.deps.bus.ask<boolean>(n.id, 'has', [type, id]).then((has) => (has ? n.id : null), () => null)));
    return answers.find((a): a is string => a !== null) ?? null;
  }

  /** Stop: where the active recording is (its node_id); else here (which answers no_active_recording or 404). */
  async #whereRecorded<T>(type: ReferenceType, id: string, op: Op, args: unknown[], here: () => Promise<T>): Promise<T> {
    if (this.local.recordingFor(type, id)) return here();
    const ref = await this.deps.store.getReference(type, id);
    const rec = ref?.recording_id ? await this.deps.store.get(ref.recording_id) : null;
    const owner = rec?.node_id;
    if (owner && owner !== this.deps.bus.nodeId) return this.deps.bus.ask<T>(owner, op, args);
    return here();
  }

  /** Start/get: here when this Asterisk has it (or the store knows it); else on the node whose Asterisk has it. */
  async #onAsterisk<T>(type: ReferenceType, id: string, op: Op, args: unknown[], here: () => Promise<T>): Promise<T> {
    const others = (await this.deps.nodes()).filter((n) => n.id !== this.deps.bus.nodeId && n.lease_age_ms <= this.deps.leaseMs);
    // A channel id names its Asterisk (`<systemname>-<epoch>.<n>`): straight to that node.
    const named = type === 'call' ? others.find((n) => n.asterisk.system_name && id.startsWith(`${n.asterisk.system_name}-`)) : undefined;
    if (named) return this.deps.bus.ask<T>(named.id, op, args);
    try {
      return await here();
    } catch (err) {
      if (!(isAppError(err) && (err.code === 'call_not_found' || err.code === 'conference_not_found')) || others.length === 0) throw err;
      // Not on this Asterisk (or not this customer's): ask the others which one has it.
      const owner = await this.#askWhoHas(type, id);
      if (!owner) throw err;
      return this.deps.bus.ask<T>(owner, op, args);
    }
  }
}
