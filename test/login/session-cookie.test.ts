/**
 * `session.cookie` (issue 16 B, express-openid-connect's names) and the `trust proxy` warning:
 * the Set-Cookie of `/login` carries what was configured.
 */
import express from 'express';
import type { AuthOptions } from '../../src/index.js';
import { cleansPrefixAfterAll, startProviderApp, testPrefix } from './setup.js';

const prefix = testPrefix('session-cookie');
cleansPrefixAfterAll(prefix);

/** The Set-Cookie line of the session cookie on a fresh `/login`, with `auth()` given `options`. */
async function loginCookie(options: Partial<AuthOptions>, name = 'oidc.sid'): Promise<string | undefined> {
  const app = await startProviderApp({}, { prefix, auth: options, app: (oidc) => express().use(oidc) });
  try {
    const res = await fetch(`${app.url}/login`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return res.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
  } finally {
    await app.close();
  }
}

describe('session.cookie', () => {
  it('is host-only, SameSite=Lax and expiring by default', async () => {
    const line = await loginCookie({});
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Lax/);
    expect(line).toMatch(/; Expires=/);
    expect(line).not.toMatch(/; Domain=/i);
  });

  it('carries Domain with session.cookie.domain', async () => {
    expect(await loginCookie({ session: { redis: 'redis://127.0.0.1:6379', prefix, cookie: { domain: 'app.example.test' } } })).toMatch(
      /; Domain=app\.example\.test/,
    );
  });

  it('carries SameSite=Strict with session.cookie.sameSite: Strict', async () => {
    expect(await loginCookie({ session: { redis: 'redis://127.0.0.1:6379', prefix, cookie: { sameSite: 'Strict' } } })).toMatch(
      /; SameSite=Strict/,
    );
  });

  it('has no Expires with session.cookie.transient', async () => {
    const line = await loginCookie({ session: { redis: 'redis://127.0.0.1:6379', prefix, cookie: { transient: true } } });
    expect(line).toMatch(/^oidc\.sid=s%3A/);
    expect(line).not.toMatch(/; Expires=/i);
  });

  it('is named by session.name', async () => {
    expect(await loginCookie({ session: { redis: 'redis://127.0.0.1:6379', prefix, name: 'appSession' } }, 'appSession')).toMatch(
      /^appSession=/,
    );
  });
});

describe('an https baseURL reached over plain http (a TLS-terminating proxy without trust proxy)', () => {
  it('warns once, naming trust proxy', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };
    const app = await startProviderApp(
      {},
      { prefix, auth: { baseURL: 'https://app.example.test', logger }, app: (oidc) => express().use(oidc) },
    );
    try {
      for (let i = 0; i < 2; i++) expect((await fetch(`${app.url}/login`, { redirect: 'manual' })).status).toBe(302);
      const named = warnings.filter((w) => w.includes("app.set('trust proxy'"));
      expect(named).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
