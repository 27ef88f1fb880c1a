/**
 * createDriver(): the ARI simulator, or a real Asterisk when ARI_URL is set (with ARI_USER, ARI_PASSWORD,
 * ARI_APP). e2e tests use only the CallDriver interface so they run unchanged against both.
 */
import type { SimulatorOptions } from '../../sim/index.js';
import { asteriskConfigFromEnv, createAsteriskDriver } from './asterisk-driver.js';
import { createSimDriver } from './sim-driver.js';
import type { CallDriver } from './types.js';

export async function createDriver(simOptions: SimulatorOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<CallDriver> {
  if (env.ARI_URL) return createAsteriskDriver(asteriskConfigFromEnv(env));
  return createSimDriver(simOptions);
}

export { createSimDriver } from './sim-driver.js';
export { createAsteriskDriver, asteriskConfigFromEnv, AsteriskDriver } from './asterisk-driver.js';
export type * from './types.js';
