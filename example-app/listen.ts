/**
 * Binds the example app to `HOST:PORT`. The port is bound first, so `PORT=0` works: the
 * configuration (and `BASE_URL`, when unset) then follows the port the system picked.
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
  /** Stops accepting requests, ends open connections, then closes the app (Redis, embedded IdP). */
  close(): Promise<void>;
}

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
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(draft.port, draft.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const stopServer = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
    });

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
    async close() {
      await stopServer();
      await example.close();
    },
  };
}
