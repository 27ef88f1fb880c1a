// Baseline of the load bench: the bare cost of receiving the same RTP in Node. Runs as a worker thread,
// binds the given ports with the same socket options as the mixer workers (udp4, SO_RCVBUF, exclusive)
// and only counts datagrams. Plain JS so no loader is involved.
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';

const { ports, recvBufferSize, bindAddress } = workerData;
const sockets = [];
let count = 0;
let bytes = 0;

await Promise.all(
  ports.map(
    (port) =>
      new Promise((resolve, reject) => {
        const s = dgram.createSocket({ type: 'udp4', recvBufferSize });
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
    parentPort.postMessage({ t: 'stopped', count, bytes });
  }
});
