/**
 * Issue 15 §4: a signing key rotated just after a JWKS fetch. An ID token comes from the token
 * endpoint over the back channel (OIDC Core §3.1.3.7), so a sign-in may refetch the JWKS at once
 * for an unknown `kid` (single-flight, at most once per floor); the Bearer guard, which anyone can
 * send tokens to, keeps its cooldown.
 */
import express from 'express';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { requiresAuth } from '../../src/index.js';
import { requireBearer } from '../../src/bearer/middleware.js';
import { RemoteKeySet } from '../../src/issuer/jwks.js';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useLoginApp } from '../support/login-app.js';
import { mintToken } from '../support/tokens.js';
import { Browser, type Hop } from '../support/browser.js';
import { quiet, type LoginApp } from '../login/setup.js';

const AUDIENCE = 'https://api.example.test';
// The default JWKS cooldown (30 s): the rotation in the first describe happens well within it.
const handle = useLoginApp({
  file: 'signin-key-rotation',
  auth: { clientSecret: 'hostile-client-secret' },
  app: (oidc) =>
    express()
      .use(oidc)
      .get('/profile', requiresAuth(), (req, res) => void res.json({ sub: req.oidc.user?.sub })),
});
let issuer: HostileIssuer;
let app: LoginApp;

beforeAll(() => {
  issuer = handle.issuer;
  app = handle.app;
});

async function signIn(app: LoginApp, browser = new Browser()): Promise<Hop> {
  const login = await browser.get(`${app.url}/login?returnTo=/profile`);
  expect(login.status).toBe(302);
  const back = await browser.get(login.location!);
  expect(back.status).toBe(302);
  return browser.get(back.location!);
}

describe('sign-in after the issuer rotates its signing key (OIDC Core §10.1.1)', () => {
  it('signs in with an ID token whose kid appeared in the JWKS just after the last fetch, refetching it once', async () => {
    expect((await signIn(app)).status).toBe(302);
    const fetches = issuer.jwksFetches;
    expect(fetches).toBeGreaterThanOrEqual(1);
    await issuer.rotateKey();
    const browser = new Browser();
    const hop = await signIn(app, browser);
    expect([hop.status, hop.location]).toEqual([302, `${app.url}/profile`]);
    expect(JSON.parse((await browser.get(`${app.url}/profile`)).text)).toEqual({ sub: issuer.sub });
    expect(issuer.jwksFetches).toBe(fetches + 1);
  });
});

describe('RemoteKeySet.getKeyPromptly (the sign-in path)', () => {
  const uri = (): string => `${issuer.issuer}/jwks`;
  const sign = (key = issuer.currentKey) => mintToken({ key, issuer: issuer.issuer, audience: AUDIENCE });

  it('refetches at once for an unknown kid although the cooldown has not passed', async () => {
    const keys = new RemoteKeySet(uri(), { logger: quiet, cooldownMs: 60_000, promptFloorMs: 0 });
    await jwtVerify(await sign(), keys.getKey);
    expect(keys.fetchCount).toBe(1);
    const fresh = await issuer.rotateKey();
    const token = await sign(fresh);
    // The guard's path waits for the cooldown ...
    await expect(jwtVerify(token, keys.getKey)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(keys.fetchCount).toBe(1);
    // ... the sign-in path does not.
    await expect(jwtVerify(token, keys.getKeyPromptly)).resolves.toMatchObject({ protectedHeader: { kid: fresh.kid } });
    expect(keys.fetchCount).toBe(2);
  });

  it('fetches once for many sign-ins with unknown kids at the same moment (single-flight)', async () => {
    const keys = new RemoteKeySet(uri(), { logger: quiet, cooldownMs: 60_000, promptFloorMs: 0 });
    await jwtVerify(await sign(), keys.getKey);
    const fresh = await issuer.rotateKey();
    const token = await sign(fresh);
    const results = await Promise.all(Array.from({ length: 20 }, () => jwtVerify(token, keys.getKeyPromptly)));
    expect(results).toHaveLength(20);
    expect(keys.fetchCount).toBe(2);
  });

  it('fetches at most once per floor, however many unknown kids the sign-ins bring', async () => {
    const keys = new RemoteKeySet(uri(), { logger: quiet, cooldownMs: 60_000, promptFloorMs: 60_000 });
    await jwtVerify(await sign(), keys.getKey);
    const stranger = await issuer.newKey();
    for (let i = 0; i < 5; i += 1) {
      await expect(jwtVerify(await sign(stranger), keys.getKeyPromptly)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    }
    expect(keys.fetchCount).toBe(2);
  });

  it('has a floor of a second by default', () => {
    const keys = new RemoteKeySet(uri(), { logger: quiet });
    expect(keys.promptFloorMs).toBe(1000);
  });
});

describe('the Bearer guard keeps its JWKS cooldown against unknown kids', () => {
  it('refuses a token with a kid published just after the last fetch, without fetching again', async () => {
    const guard = requireBearer({
      issuer: issuer.issuer,
      jwksUri: `${issuer.issuer}/jwks`,
      audience: AUDIENCE,
      allowInsecureHttp: true,
      logger: quiet,
    });
    const api = express()
      .use('/api', guard)
      .get('/api/me', (_req, res) => void res.json({ ok: true }));
    const first = await mintToken({ key: issuer.currentKey, issuer: issuer.issuer, audience: AUDIENCE });
    expect((await request(api).get('/api/me').set('Authorization', `Bearer ${first}`)).status).toBe(200);
    const fetches = guard.verifier.jwksFetchCount();
    const fresh = await issuer.rotateKey();
    const token = await mintToken({ key: fresh, issuer: issuer.issuer, audience: AUDIENCE });
    const res = await request(api).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect([res.status, res.body]).toEqual([401, { error: 'invalid_token', error_description: 'no matching signing key' }]);
    expect(guard.verifier.jwksFetchCount()).toBe(fetches);
  });
});
