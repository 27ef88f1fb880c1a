/**
 * The ARI simulator as a standalone process (`npm run sim`): an Asterisk 22 stand-in for trying the daemon without
 * Asterisk. It speaks ARI only (REST under /ari, the events WebSocket, RTP over UDP), so a test call is placed
 * with the real ARI request, e.g. `POST /ari/channels?endpoint=Local/two-tone@test&app=recorder` (440 Hz toward
 * the channel, 1000 Hz from it: both directions of a call); see test/sim/README.md for the extensions it knows.
 *
 *   npm run sim -- [--host 127.0.0.1] [--port 8088] [--app recorder] [--user asterisk] [--password asterisk]
 *
 * The first line on stdout is `ARI simulator listening on http://HOST:PORT/ari …` (scripts read the address from
 * it, e.g. with `--port 0`). SIGINT/SIGTERM close it (exit 0).
 */
import { parseArgs } from 'node:util';
import { startAriSimulator } from './simulator.js';

const USAGE = `usage: npm run sim -- [options]
  --host <addr>        listen address (default 127.0.0.1)
  --port <n>           ARI HTTP port (default 8088, Asterisk's; 0 = a free port)
  --app <name>         Stasis application the daemon uses (default recorder)
  --user <name>        ARI user (default asterisk)
  --password <secret>  ARI password (default asterisk)
  -h, --help`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8088' },
      app: { type: 'string', default: 'recorder' },
      user: { type: 'string', default: 'asterisk' },
      password: { type: 'string', default: 'asterisk' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) fail(`--port: expected 0-65535, got "${values.port}"`);
for (const name of ['host', 'app', 'user', 'password'] as const) {
  if (values[name] === '') fail(`--${name} must not be empty`);
}

let sim;
try {
  sim = await startAriSimulator({ host: values.host, port: Number(values.port), app: values.app, username: values.user, password: values.password });
} catch (err) {
  process.stderr.write(`ARI simulator could not listen on ${values.host}:${values.port}: ${(err as Error).message}\n`);
  process.exit(1);
}

const ari = `${sim.url}/ari`;
process.stdout.write(
  `ARI simulator listening on ${ari} (app ${sim.app}, user ${sim.username}; Ctrl-C stops it)\n` +
    `  daemon:  ARI_URL=${sim.url} ARI_USER=${sim.username} ARI_PASSWORD=${sim.password} ARI_APP=${sim.app} make run\n` +
    `  a call:  curl -s -u ${sim.username}:${sim.password} -X POST '${ari}/channels?endpoint=Local/two-tone@test&app=${sim.app}'\n` +
    `           (the channel receives 440 Hz and sends 1000 Hz; Local/tone<f>@test: f Hz toward it only)\n` +
    `  hang up: curl -s -u ${sim.username}:${sim.password} -X DELETE '${ari}/channels/<id>'\n`,
);

// Tests read these logs; a long-running process has nobody to read them: keep them from growing for ever.
const trim = setInterval(() => {
  sim.requestLog.splice(0, sim.requestLog.length);
  sim.events.splice(0, sim.events.length);
}, 10_000);
trim.unref();

let closing = false;
const stop = (signal: NodeJS.Signals) => {
  // npm forwards the terminal's SIGINT to a child that already got it: a second signal changes nothing.
  if (closing) return;
  closing = true;
  clearInterval(trim);
  const force = setTimeout(() => {
    process.stderr.write('ARI simulator: close took more than 5 s, exiting\n');
    process.exit(1);
  }, 5000);
  force.unref();
  sim.close().then(
    () => {
      process.stdout.write(`ARI simulator stopped (${signal})\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ARI simulator: close failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
