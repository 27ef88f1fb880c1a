// Baseline of the load bench: the bare cost of receiving the same RTP in Node. Runs as a worker thread,
// binds the given ports with the same socket options as the mixer workers (udp4, SO_RCVBUF, exclusive)
// and only counts datagrams. Plain JS so no loader is involved.
// receiver 'native': the same sockets through the recvmmsg addon (src/media/native), drained every
// `pollMs` like the mixer worker does, counting the records of each batch (no per-datagram JS).
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const { ports: streamPorts, recvBufferSize, bindAddress, receiver = 'dgram', pollMs = 5, slots: SLOTS, slotBytes: SLOT } = workerData;
// This thread's CPU (ms; Linux's schedstat, as src/util/thread-cpu.ts reads it), for the report's split of the process.
const threadCpuMs = () => {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
};
// A port listed more than once is a shared socket (--rtp-sockets shared): bound once, with as much buffer as its streams'.
const streamsOn = new Map();
for (const p of streamPorts) streamsOn.set(p, (streamsOn.get(p) ?? 0) + 1);
const ports = [...streamsOn.keys()];
const bufferOf = (port) => Math.min(2 ** 30, recvBufferSize * streamsOn.get(port));
const sockets = [];
let count = 0;
let bytes = 0;

if (receiver === 'native') {
  const native = createRequire(import.meta.url)('../src/media/native/build/Release/ari_udp.node');
  // SLOTS × SLOT: the mixer's BatchReceiver geometry, given by run.ts (src/media/batch-receiver.ts's defaults)
  const buf = new ArrayBuffer(64 + SLOTS * (80 + SLOT));
  const i32 = new Int32Array(buf);
  const id = native.create(buf, SLOTS, SLOT);
  for (const port of ports) native.open(id, bindAddress, port, bufferOf(port), false);
  const drain = () => {
    for (;;) {
      const n = native.poll(id, Date.now());
      count += n;
      for (let i = 0; i < n; i++) bytes += i32[(64 + i * 80 + 4) >> 2];
      if (i32[3] === 0) break;
    }
  };
  const timer = setInterval(drain, pollMs);
  parentPort.postMessage({ t: 'ready' });
  parentPort.on('message', (m) => {
    if (m.t === 'count') parentPort.postMessage({ t: 'count', count, bytes });
    if (m.t === 'stop') {
      clearInterval(timer);
      drain();
      native.destroy(id);
      parentPort.postMessage({ t: 'stopped', count, bytes, threadCpuMs: threadCpuMs() });
    }
  });
} else {
await Promise.all(
  ports.map(
    (port) =>
      new Promise((resolve, reject) => {
        const s = dgram.createSocket({ type: 'udp4', recvBufferSize: bufferOf(port) });
        s.once('error', reject);
        s.bind({ port, address: bindAddress, exclusive: true }, () => {
          s.off('error', reject);
          s.on('message', (buf) => {
            count++;
            bytes += buf.length;
          });
          s.on('error', () => undefined);
          sockets.push(s);
          resolve();
        });
      }),
  ),
);
parentPort.postMessage({ t: 'ready' });
parentPort.on('message', async (m) => {
  if (m.t === 'count') parentPort.postMessage({ t: 'count', count, bytes });
  if (m.t === 'stop') {
    await Promise.all(sockets.map((s) => new Promise((r) => s.close(r))));
    parentPort.postMessage({ t: 'stopped', count, bytes, threadCpuMs: threadCpuMs() });
  }
});
}
