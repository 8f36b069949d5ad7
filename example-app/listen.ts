/**
 * Binds the example app to `HOST:PORT`. The port is bound first, so `PORT=0` works: the
 * configuration (and `BASE_URL`, when unset) then follows the port the system picked.
 *
 * Shutting down is graceful: the listening socket closes at once (new connections are refused),
 * idle keep-alive connections close, requests in flight finish (up to a drain deadline), and only
 * then does the app release its refresh locks, quit Redis and stop the embedded IdP.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadConfig, type AppConfig } from './config.js';
import { createApp, type CreateAppOptions, type ExampleApp } from './app.js';

/** A running example app. */
export interface RunningServer {
  /** The app's `BASE_URL`. */
  url: string;
  /** The port bound. */
  port: number;
  config: AppConfig;
  example: ExampleApp;
  /**
   * Stops accepting connections, lets the requests in flight finish (at most `drainMs`, default
   * {@link DEFAULT_DRAIN_MS}; connections still busy then are cut), then closes the app (refresh
   * locks, Redis, embedded IdP).
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

/** How long a shutdown waits for requests in flight, in ms (below server.ts's 10 s hard limit). */
export const DEFAULT_DRAIN_MS = 8000;

/**
 * Reads the configuration from `env`, listens, builds the app and starts serving. Resolves once
 * requests are accepted.
 *
 * @throws ConfigError for a configuration the app refuses
 */
export async function startServer(
  env: Record<string, string | undefined> = process.env,
  options: CreateAppOptions = {},
): Promise<RunningServer> {
  // Validate everything (production rules included) before binding anything.
  const draft = loadConfig(env);
  const server = http.createServer();
  // Each open connection with the number of its requests still being answered.
  const sockets = new Map<Socket, number>();
  let draining = false;
  let drained: (() => void) | undefined;
  const settleDrain = (): void => {
    if (draining && drained && [...sockets.values()].every((busy) => busy === 0)) drained();
  };
  server.on('connection', (socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => {
      sockets.delete(socket);
      settleDrain();
    });
  });
  // Registered before the app's handler: counts requests. One that arrives during a drain on a
  // kept-alive connection is still answered, with `Connection: close`.
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    if (draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      const busy = Math.max(0, (sockets.get(socket) ?? 1) - 1);
      if (sockets.has(socket)) sockets.set(socket, busy);
      // Answered during a drain: this connection is done.
      if (draining && busy === 0) socket.end();
      settleDrain();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(draft.port, draft.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  /** Closes the listening socket and waits for requests in flight, then cuts what is left. */
  const stopServer = async (drainMs = 0): Promise<void> => {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    for (const [socket, busy] of sockets) if (busy === 0) socket.end();
    if (drainMs > 0 && [...sockets.values()].some((busy) => busy > 0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (drained = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs))),
      ]);
      clearTimeout(timer);
    }
    for (const socket of sockets.keys()) socket.destroy();
    await closed;
  };

  let example: ExampleApp;
  let config: AppConfig;
  try {
    config = { ...loadConfig(env, port), warnings: draft.warnings };
    // Keep the generated secrets of the first read (they are random per read).
    config.sessionSecret = draft.sessionSecret;
    config.clientSecret = draft.clientSecret;
    example = await createApp(config, options);
  } catch (err) {
    await stopServer();
    throw err;
  }
  server.on('request', example.app);

  return {
    url: config.baseURL,
    port,
    config,
    example,
    async close(closeOptions = {}) {
      await stopServer(closeOptions.drainMs ?? DEFAULT_DRAIN_MS);
      await example.close();
    },
  };
}
