import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs; tokens, passwords and authorization headers are redacted wherever they appear. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: { write(line: string): void }): Logger {
  const options = {
    level,
    base: { service: 'ari-recorder' },
    redact: {
      paths: ['token', 'password', 'secret', '*.token', '*.password', '*.secret', 'req.headers.authorization', 'req.query.token', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
