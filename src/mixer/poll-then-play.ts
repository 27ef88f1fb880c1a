/**
 * One playout step of a worker: read the clock, read the sockets, then play the slots due at that clock reading.
 *
 * The order is what keeps a stall harmless. A slot is due once its packets had time to arrive (its end plus the playout
 * delay); everything that arrived before the clock reading is read by the poll that follows it. Reading the clock
 * after the poll instead would, when the thread is descheduled between the two (a VM's stall of 300 ms), play slots
 * whose packets came during the stall and still wait unread in the kernel: they would all turn late.
 */
export function pollThenPlay<T>(clock: () => number, poll: () => void, play: (dueAt: number) => T): T {
  const dueAt = clock();
  poll();
  return play(dueAt);
}
