/**
 * `npm start`: runs the example app. Prints `listening on <BASE_URL>` once it accepts requests
 * (after the embedded IdP's URL and demo login, when it runs one), and shuts down cleanly on
 * SIGTERM or SIGINT (exit code 0). A configuration it refuses: one line on stderr, exit code 1.
 */
import { ConfigError } from './config.js';
import { DEMO_USER } from './idp.js';
import { startServer, type RunningServer } from './listen.js';

function fail(message: string): never {
  process.stderr.write(`example-app: ${message}\n`);
  process.exit(1);
}

function describe(err: unknown): string {
  if (err instanceof ConfigError || err instanceof TypeError) return err.message;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'EADDRINUSE') return 'the port is already in use (set PORT to another one)';
  if (code === 'EACCES') return 'not allowed to bind this address or port (set HOST / PORT)';
  if (err instanceof Error) return `could not start: ${err.message}`;
  return 'could not start';
}

let running: RunningServer;
try {
  running = await startServer(process.env);
} catch (err) {
  fail(describe(err));
}

for (const warning of running.config.warnings) process.stderr.write(`example-app warning: ${warning}\n`);
if (running.example.idp) {
  process.stdout.write(`embedded development IdP: ${running.example.idp.issuer}\n`);
  process.stdout.write(`demo login: ${DEMO_USER.login} / password: ${DEMO_USER.password}\n`);
}
process.stdout.write(`listening on ${running.url}\n`);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  // A close that hangs must not keep the process forever.
  const deadline = setTimeout(() => {
    process.stderr.write(`example-app: shutdown after ${signal} took too long\n`);
    process.exit(1);
  }, 10_000);
  deadline.unref();
  try {
    await running.close();
    process.exit(0);
  } catch (err) {
    process.stderr.write(`example-app: error while shutting down: ${err instanceof Error ? err.name : 'unknown'}\n`);
    process.exit(1);
  }
}

process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
