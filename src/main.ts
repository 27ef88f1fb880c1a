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
    const onSignal = (sig: string) => {
      logger.info({ signal: sig }, 'shutting down: stopping active recordings');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await app.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`ari-recorder failed to start: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
