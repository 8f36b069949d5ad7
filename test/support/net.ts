/** Loopback ports and servers for tests. */
import { createServer, type AddressInfo, type Server } from 'node:net';

/** A loopback port nothing listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

/** Closes a server, resolving once it stopped listening. */
export function closeServer(server: Server | import('node:http').Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
