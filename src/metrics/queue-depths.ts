/** BullMQ queue depths read at scrape time, each queue with a deadline (a Redis that hangs cannot hang a scrape). */

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

type CountedState = QueueState | 'prioritized';

/** A queue and its kind (the label: every webhook endpoint's queue is a `webhook` queue). */
export interface QueueSource {
  kind: string;
  queue: { getJobCounts(...types: CountedState[]): Promise<Record<string, number>> };
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Counts by queue kind (queues of one kind summed; `prioritized` jobs are waiting too). A kind one of whose queues
 * did not answer in time (or failed) is left out rather than reported too low.
 */
export async function collectQueueDepths(queues: readonly QueueSource[], timeoutMs: number): Promise<Map<string, Record<QueueState, number>>> {
  const answers = await Promise.all(
    queues.map(async ({ kind, queue }) => {
      try {
        const c = await withDeadline(queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'), timeoutMs);
        const n = (s: CountedState) => (Number.isFinite(c[s]) ? c[s] : 0);
        return { kind, counts: { waiting: n('waiting') + n('prioritized'), active: n('active'), delayed: n('delayed'), failed: n('failed') } };
      } catch {
        return { kind, counts: null };
      }
    }),
  );
  const out = new Map<string, Record<QueueState, number>>();
  const broken = new Set<string>();
  for (const { kind, counts } of answers) {
    if (!counts) {
      broken.add(kind);
      continue;
    }
    const sum = out.get(kind) ?? { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const s of QUEUE_STATES) sum[s] += counts[s];
    out.set(kind, sum);
  }
  for (const kind of broken) out.delete(kind);
  return out;
}
