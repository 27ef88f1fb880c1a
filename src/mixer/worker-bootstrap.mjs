// Loads the TypeScript worker entry (worker.ts) in dev/tests (tsx, vitest), where no compiled worker.js
// exists. Production runs dist/src/mixer/worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./worker.ts', import.meta.url).href);
