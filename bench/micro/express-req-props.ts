/**
 * What one property added to `req` costs where middleware runs, timed in place: under a plain
 * node:http server, under Express 5, and under Express 5 after toDictionaryMode()
 * (src/util/dictionary-mode.ts). Express's router leaves every request object with a hidden
 * class of its own, so each add builds a new one; in dictionary mode an add is a hash-table
 * insert. (That the hidden classes differ was seen with `node --allow-natives-syntax` and
 * `%DebugPrint(req)` in a middleware: under node:http consecutive requests print the same map,
 * under Express a new one each, while before Express's router.handle() it is still shared.)
 *
 * Run: taskset -c 0 npx tsx bench/micro/express-req-props.ts [requests=20000]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { load } from '../suite/lib.js';
const { toDictionaryMode } = (await import(
  new URL('../../dist/esm/util/dictionary-mode.js', import.meta.url).href
)) as typeof import('../../src/util/dictionary-mode.js');

const requests = Number(process.argv[2] ?? 20000);
interface Figures {
  micros: number;
  count: number;
}

/** Adds four properties to the request, timed. */
function addFour(req: IncomingMessage, f: Figures): void {
  const r = req as IncomingMessage & Record<string, unknown>;
  const t0 = performance.now();
  r.benchA = 1;
  r.benchB = 'b';
  r.benchC = f;
  r.benchD = null;
  f.micros += (performance.now() - t0) * 1000;
  f.count += 1;
}

async function run(label: string, handler: (f: Figures) => (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
  const f: Figures = { micros: 0, count: 0 };
  const server = createServer(handler(f));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`;
  await load({ url, amount: 2000, connections: 10 });
  Object.assign(f, { micros: 0, count: 0 });
  await load({ url, amount: requests, connections: 10 });
  server.close();
  process.stdout.write(`${label}: ${(f.micros / f.count / 4).toFixed(2)} µs per property added\n`);
}

await run('node:http', (f) => (req, res) => {
  addFour(req, f);
  res.end('ok');
});
for (const dictionary of [false, true]) {
  await run(dictionary ? 'Express 5, dictionary mode first' : 'Express 5', (f) => {
    const app = express();
    app.use((req, _res, next) => {
      if (dictionary) toDictionaryMode(req);
      addFour(req, f);
      next();
    });
    app.get('/page', (_req, res) => {
      res.end('ok');
    });
    return app;
  });
}
process.exit(0);
