import { debuglog } from 'node:util';

/**
 * Where this package reports. Messages and fields never contain a token, a code, a secret or a
 * cookie value: call sites pass only fixed text, error codes and non-secret identifiers.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const debug = debuglog('oidc-guard');

function line(level: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  return `[oidc-guard] ${level}: ${message}${extra}\n`;
}

/**
 * The default logger: debug and info through `NODE_DEBUG=oidc-guard`, warnings and errors to
 * standard error. Pass your own (pino, winston...) through the `logger` option.
 */
export const defaultLogger: Logger = {
  debug: (message, fields) => debug('%s', line('debug', message, fields).trimEnd()),
  info: (message, fields) => debug('%s', line('info', message, fields).trimEnd()),
  warn: (message, fields) => void process.stderr.write(line('warn', message, fields)),
  error: (message, fields) => void process.stderr.write(line('error', message, fields)),
};

/**
 * Describes an error for a log line without its message (which may quote untrusted input).
 * Duck-typed rather than `instanceof Error`: errors from another realm (Node's own, under jest's
 * module sandbox) fail that check.
 */
export function describeCause(err: unknown): Record<string, unknown> {
  if (typeof err === 'object' && err !== null) {
    const { name, code, cause } = err as { name?: unknown; code?: unknown; cause?: unknown };
    return {
      error: typeof name === 'string' ? name : 'Error',
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof cause === 'object' && cause !== null ? { cause: describeCause(cause) } : {}),
    };
  }
  return { error: typeof err };
}
