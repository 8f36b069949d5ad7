/**
 * Interop with an OpenID Provider nobody here wrote: Glewlwyd 2.7 from Debian's packages
 * (scripts/interop/glewlwyd.ts sets it up). The example app runs as a process, configured by its
 * environment variables only, and Chromium signs in through Glewlwyd's own login page.
 *
 * Run with `npm run test:interop` (not part of `npm test`: it needs the `glewlwyd` package).
 * Glewlwyd's quirks, and what each became, are in the README ("Glewlwyd").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { auth, requiresAuth, type AuthRouter } from '../../src/index.js';
import { assertionRedis, deleteKeys } from '../support/redis.js';
import { InvalidGrantError, IssuerResponseError } from '../../src/errors/index.js';
import { discover } from '../../src/issuer/discovery.js';
import { tokenRequest } from '../../src/login/token-endpoint.js';
import { freePort, startGlewlwyd, USER, type RunningGlewlwyd } from '../../scripts/interop/glewlwyd.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
// Access tokens (and, in Glewlwyd, ID tokens) that live 12 s: the library refreshes them once
// they are within 5.5 s of expiry (half their lifetime, less half a second), so after 6.5 s.
const TTL = 12;

let dir: string;
let idp: RunningGlewlwyd;
let app: ChildProcess;
let appOutput = '';
let base: string;
let audience: string;
let browser: Browser;
/** Relays Glewlwyd's back-channel logout posts to the app and keeps each token and the app's answer. */
let relay: http.Server;
const logoutPosts: Array<{ token: string; appStatus: number; appBody: string; lenientStatus?: number }> = [];
/**
 * A second relying party of the same client, in this process, with
 * `backchannelLogout: { allowMissingExp: true }`: the relay hands it each logout token too.
 */
let lenient: { base: string; oidc: AuthRouter; server: http.Server } | undefined;
const LENIENT_PREFIX = `test:interop-lenient:${randomBytes(4).toString('hex')}:`;

/** The lenient app's answer to a logout token (undefined before it started). */
async function postToLenient(contentType: string, body: string): Promise<number | undefined> {
  if (!lenient) return undefined;
  const answer = await fetch(`${lenient.base}/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
  await answer.arrayBuffer();
  return answer.status;
}

async function startLenientApp(port: number): Promise<void> {
  const lenientBase = `http://localhost:${port}`;
  const oidc = auth({
    issuerBaseURL: idp.issuer,
    baseURL: lenientBase,
    clientID: idp.clientID,
    clientSecret: idp.clientSecret,
    secret: randomBytes(32).toString('base64url'),
    authRequired: false,
    authorizationParams: { scope: 'openid profile email offline_access' },
    session: { redis: 'redis://127.0.0.1:6379', prefix: LENIENT_PREFIX },
    backchannelLogout: { allowMissingExp: true },
    logger: { debug() {}, info() {}, warn() {}, error: (message: string) => void (appOutput += `lenient app: ${message}\n`) },
  });
  const server = http.createServer(
    express()
      .use(oidc)
      .get('/me', requiresAuth(), (req, res) => {
        res.json(req.oidc.user);
      }),
  );
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  lenient = { base: lenientBase, oidc, server };
}

async function startRelay(): Promise<string> {
  relay = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      void fetch(`${base}/backchannel-logout`, { method: 'POST', headers: { 'content-type': String(req.headers['content-type']) }, body })
        .then(async (answer) => {
          const appBody = await answer.text();
          const lenientStatus = await postToLenient(String(req.headers['content-type']), body);
          logoutPosts.push({
            token: new URLSearchParams(body).get('logout_token') ?? '',
            appStatus: answer.status,
            appBody,
            ...(lenientStatus !== undefined ? { lenientStatus } : {}),
          });
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(appBody);
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(relay.address() as AddressInfo).port}/backchannel-logout`;
}

async function startApp(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'example-app/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (appOutput += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (appOutput += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/^listening on /m.test(appOutput)) resolve();
      else if (child.exitCode !== null) reject(new Error(`the example app exited:\n${appOutput}`));
      else setTimeout(check, 50);
    };
    check();
  });
  return child;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'interop-glewlwyd-'));
  const port = await freePort();
  base = `http://localhost:${port}`;
  audience = `${base}/api`;
  const lenientPort = await freePort();
  idp = await startGlewlwyd({
    dir,
    appBaseURL: base,
    audience,
    accessTokenTtl: TTL,
    backchannelLogoutURI: await startRelay(),
    moreAppBaseURLs: [`http://localhost:${lenientPort}`],
  });
  await startLenientApp(lenientPort);
  app = await startApp({
    PORT: String(port),
    HOST: '127.0.0.1',
    BASE_URL: base,
    ISSUER_BASE_URL: idp.issuer,
    CLIENT_ID: idp.clientID,
    CLIENT_SECRET: idp.clientSecret,
    AUDIENCE: audience,
    REDIS_URL: 'redis://127.0.0.1:6379',
    SESSION_SECRET: randomBytes(32).toString('base64url'),
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (app?.exitCode === null) {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
  }
  if (lenient) {
    await lenient.oidc.close();
    lenient.server.closeAllConnections();
    await new Promise((resolve) => lenient!.server.close(resolve));
    const redis = assertionRedis();
    await deleteKeys(redis, LENIENT_PREFIX);
    await redis.quit();
  }
  await idp?.stop();
  await new Promise((resolve) => relay?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Polls `fn` until it returns true, for at most `ms`. */
async function eventually(fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Signs in through Glewlwyd's login page; ends on the app's /profile. */
async function signIn(page: Page): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.href.startsWith(`${idp.url}/login.html`));
  await page.locator('#username').fill(USER.username);
  await page.locator('#password').fill(USER.password);
  await page.locator('#loginbut').click();
  // The consent was given ahead (scripts/interop/glewlwyd.ts); Glewlwyd still asks to continue.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${base}/profile`);
}

async function profile(page: Page): Promise<{ claims: Record<string, unknown>; api: Record<string, unknown> }> {
  return {
    claims: JSON.parse((await page.locator('#claims').textContent()) ?? 'null') as Record<string, unknown>,
    api: JSON.parse((await page.locator('#api-me').textContent()) ?? 'null') as Record<string, unknown>,
  };
}

/** A token from Glewlwyd's token endpoint by the client credentials grant. */
async function clientCredentialsToken(extra: Record<string, string>): Promise<string> {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${idp.clientID}:${idp.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', ...extra }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function withContext(run: (context: BrowserContext, page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  try {
    await run(context, page);
  } finally {
    await context.close();
  }
}

describe('Glewlwyd 2.7 (Debian) as the OpenID Provider', () => {
  it('serves discovery under /api/oidc with that path as issuer, and does not advertise back-channel logout', async () => {
    const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    const metadata = (await res.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(idp.issuer);
    expect(metadata.end_session_endpoint).toBe(`${idp.issuer}/end_session`);
    expect(metadata.backchannel_logout_supported).toBeUndefined();
  });

  it('signs in with Chromium through its login page; /profile shows the claims and /api/me accepts its access token', async () => {
    await withContext(async (_context, page) => {
      await signIn(page);
      const { claims, api } = await profile(page);
      expect(claims).toMatchObject({ iss: idp.issuer, aud: idp.clientID, name: USER.name, email: USER.email });
      // Glewlwyd writes auth_time 0 (no max_age sent, so the library does not judge it).
      expect(claims.auth_time).toBe(0);
      // The access token is for the resource the app asked for (RFC 8707), not the scopes.
      expect(api).toMatchObject({ iss: idp.issuer, aud: audience, sub: claims.sub, client_id: idp.clientID });
    });
  }, 60_000);

  it('refreshes: access tokens live 12 s, so /profile soon shows a new one got with the refresh token', async () => {
    await withContext(async (_context, page) => {
      await signIn(page);
      const first = (await profile(page)).api;
      let second = first;
      await eventually(async () => {
        await page.reload();
        second = (await profile(page)).api;
        return second.jti !== first.jti;
      }, 20_000);
      expect(second).toMatchObject({ iss: idp.issuer, aud: audience, sub: first.sub, client_id: idp.clientID });
    });
  }, 60_000);

  it('back-channel logout: Glewlwyd posts a logout token without exp, refused (400); the revoked refresh token then signs out', async () => {
    await withContext(async (context, page) => {
      await signIn(page);
      const { claims } = await profile(page);
      expect(typeof claims.sid).toBe('string');
      const before = logoutPosts.length;
      // What its logout page does: end the OIDC session; Glewlwyd then posts the logout token
      // from a thread of its own.
      const ended = await context.request.delete(`${idp.url}/api/oidc/session/${String(claims.sid)}`);
      expect(ended.status()).toBe(200);
      await eventually(async () => logoutPosts.length > before);
      const post = logoutPosts[logoutPosts.length - 1]!;
      // Back-Channel Logout draft 06 (Glewlwyd 2.7.5): no exp, which 1.0 final §2.4 requires.
      const token = decodeJwt(post.token);
      expect(token).toMatchObject({ iss: idp.issuer, aud: idp.clientID, sub: claims.sub, sid: claims.sid });
      expect(token.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
      expect(token.exp).toBeUndefined();
      expect(post.appStatus).toBe(400);
      expect(JSON.parse(post.appBody)).toMatchObject({ error: 'invalid_request' });
      // So the app's session is still there...
      await expect((await context.request.get(`${base}/`)).text()).resolves.toContain('Welcome back');
      // ...until its access token is due: Glewlwyd revoked the refresh token with the session and
      // answers 400 with no error code, which signs the session out (not a 502).
      await eventually(async () => {
        const res = await context.request.get(`${base}/profile`, { maxRedirects: 0 });
        return res.status() === 302 && res.headers().location === '/login?returnTo=/profile';
      }, 25_000);
      await expect((await context.request.get(`${base}/`)).text()).resolves.toContain('You are not signed in.');
    });
  }, 60_000);

  it('back-channel logout with backchannelLogout.allowMissingExp: the same tokens end the session at once; without it, refused', async () => {
    const app2 = lenient!;
    await withContext(async (context, page) => {
      await page.goto(`${app2.base}/login?returnTo=/me`);
      await page.waitForURL((url) => url.href.startsWith(`${idp.url}/login.html`));
      await page.locator('#username').fill(USER.username);
      await page.locator('#password').fill(USER.password);
      await page.locator('#loginbut').click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${app2.base}/me`);
      const claims = JSON.parse((await page.locator('body').textContent()) ?? 'null') as Record<string, unknown>;
      expect(typeof claims.sid).toBe('string');
      expect((await context.request.get(`${app2.base}/me`, { maxRedirects: 0 })).status()).toBe(200);
      const before = logoutPosts.length;
      const ended = await context.request.delete(`${idp.url}/api/oidc/session/${String(claims.sid)}`);
      expect(ended.status()).toBe(200);
      await eventually(async () => logoutPosts.slice(before).some((post) => decodeJwt(post.token).sid === claims.sid));
      const post = logoutPosts.slice(before).find((candidate) => decodeJwt(candidate.token).sid === claims.sid)!;
      expect(decodeJwt(post.token).exp).toBeUndefined();
      // Without the opt-in (the example app): refused, saying why.
      expect(post.appStatus).toBe(400);
      expect(JSON.parse(post.appBody)).toEqual({ error: 'invalid_request', error_description: 'The logout token has no exp.' });
      // With it: accepted, and the session is gone at once (no wait for a refresh).
      expect(post.lenientStatus).toBe(200);
      const after = await context.request.get(`${app2.base}/me`, { maxRedirects: 0 });
      expect(after.status()).toBe(302);
      expect(after.headers().location).toBe('/login?returnTo=/me');
      expect(await app2.oidc.sessions.listBySub(String(claims.sub))).toEqual([]);
    });
  }, 60_000);

  it('RP-initiated logout: Log out goes to its end-session page, which closes the session at both ends', async () => {
    await withContext(async (_context, page) => {
      await signIn(page);
      await page.getByRole('button', { name: 'Log out' }).click();
      // "The client [name] wishes you to close the current session", on its login page.
      await page.getByText(/wishes you to close the current session/).waitFor();
      expect(new URL(page.url()).searchParams.get('prompt')).toBe('end_session');
      await page.getByRole('button', { name: 'Logout' }).click();
      // Glewlwyd 2.7.5 sends the browser back to post_logout_redirect_uri only when the request
      // carried a `state`; without one it shows its own page.
      await page.getByText('Session closed').waitFor();
      await page.goto(`${base}/`);
      await expect(page.getByRole('link', { name: 'Log in' }).isVisible()).resolves.toBe(true);
    });
  }, 60_000);

  it('its access tokens are RS256 JWTs of type at+jwt; the guard takes them with aud = resource, refuses them with aud = scope', async () => {
    const forResource = await clientCredentialsToken({ resource: audience });
    expect(decodeProtectedHeader(forResource)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    expect(decodeJwt(forResource).aud).toBe(audience);
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${forResource}` } });
    expect(me.status).toBe(200);

    // Without a resource indicator Glewlwyd puts the scope in `aud`: not for this API.
    const forScope = await clientCredentialsToken({});
    expect(decodeJwt(forScope).aud).toBe('api');
    const refused = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${forScope}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses a wrong client secret with 403 unauthorized_client at the code exchange (502 page), 400 and no body on a refresh', async () => {
    const wrong = { method: 'client_secret_basic', clientID: idp.clientID, clientSecret: 'wrong-secret' } as const;
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${idp.clientID}:wrong-secret`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: `${base}/callback` }),
    });
    expect(res.status).toBe(403);
    await expect(res.json()).resolves.toEqual({ error: 'unauthorized_client' });
    const metadata = await discover(idp.issuer);
    // Not 401 invalid_client (RFC 6749 §5.2), but still a refusal the package shows as its 502 page.
    const exchange = tokenRequest(metadata, wrong, { grant_type: 'authorization_code', code: 'x', redirect_uri: `${base}/callback` }, 5000);
    await expect(exchange).rejects.toBeInstanceOf(IssuerResponseError);
    await expect(exchange).rejects.toMatchObject({ status: 502 });
    // On a refresh the answer (400, empty body) is the same as for a revoked refresh token: the
    // session signs out, and the next sign-in's code exchange shows the 502.
    const refresh = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${idp.clientID}:wrong-secret`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }),
    });
    expect(refresh.status).toBe(400);
    await expect(refresh.text()).resolves.toBe('');
    await expect(tokenRequest(metadata, wrong, { grant_type: 'refresh_token', refresh_token: 'x' }, 5000)).rejects.toBeInstanceOf(
      InvalidGrantError,
    );
  });
});
