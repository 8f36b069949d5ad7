/**
 * The unit tests' guard: no socket may connect and no server may listen while a unit test file
 * runs (jest `setupFilesAfterEnv` of the `unit` project). A test that needs the network belongs to
 * the `integration` project; here it fails at once, naming the call. Restored after the file,
 * since a jest worker runs files of both projects.
 */
import net from 'node:net';

const connect = net.Socket.prototype.connect;
const listen = net.Server.prototype.listen;

function refuse(what: string): never {
  throw new Error(`unit tests use no network (${what}): move this test to the integration project (jest.config.ts)`);
}

beforeAll(() => {
  net.Socket.prototype.connect = function blockedConnect() {
    return refuse('socket.connect');
  } as typeof connect;
  net.Server.prototype.listen = function blockedListen() {
    return refuse('server.listen');
  } as typeof listen;
});

afterAll(() => {
  net.Socket.prototype.connect = connect;
  net.Server.prototype.listen = listen;
});
