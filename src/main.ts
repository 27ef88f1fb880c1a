import { ConfigError, loadConfig } from './config.js';
import { startApp } from './app.js';
import { createLogger } from './logger.js';

/** The daemon: validated config, the app, and a graceful drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const app = await startApp(config, { logger, waitForAri: false });
  await new Promise<void>((resolve) => {
    // SIGTERM drains (SHUTDOWN_GRACE_SEC); SIGINT, or a second signal, stops the recordings at once; a third exits.
    const cut = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        const graceSec = sig === 'SIGTERM' ? config.shutdownGraceSec : 0;
        if (graceSec > 0) {
          logger.info({ signal: sig, grace_sec: graceSec, active: app.recorder.activeCount }, 'shutting down: draining (new recordings refused, active ones run until they end or the grace period passes; a second signal stops them now)');
        } else {
          logger.info({ signal: sig, active: app.recorder.activeCount }, 'shutting down: stopping active recordings');
        }
        app.stop({ graceMs: graceSec * 1000, signal: cut.signal }).then(resolve, resolve);
      } else if (signals === 2) {
        if (!cut.signal.aborted) logger.warn({ signal: sig }, 'second signal: stopping the active recordings now');
        cut.abort();
      } else {
        logger.error({ signal: sig }, 'third signal: exiting without finishing the shutdown (a restart recovers the recordings)');
        process.exit(130);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Everything is closed; a handle someone forgot must not keep the process (and its supervisor) waiting.
  setTimeout(() => {
    logger.warn('still running 10 s after the shutdown: exiting');
    process.exit(0);
  }, 10_000).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`ari-recorder failed to start: ${(err as Error).message}\n`);
  process.exitCode = 1;
  // A client left reconnecting (Redis, ARI) must not keep a daemon that failed to start alive.
  setTimeout(() => process.exit(1), 5000).unref();
});
