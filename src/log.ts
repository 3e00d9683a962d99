/** Structured JSON logs (pino), one line per request from src/http/request-log.ts. */
import pino, { Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'novadock' }, timestamp: pino.stdTimeFunctions.isoTime });
}
