/**
 * /profile with an expired access token (docs/CONTRACT.md, "Behaviour the routes share"): the app
 * refreshes it first; when the issuer refuses the refresh (invalid_grant) the session is signed
 * out and the browser is sent to sign in again. The embedded IdP issues access tokens that live
 * 2 s; the tests wait until one expired. The library's 30 s refresh margin is capped by that
 * lifetime (issue 15 §3), so one page view after expiry makes exactly one refresh grant.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { DEMO_USER } from '../../example-app/idp.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { CookieJar, request, signIn } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const TTL = 2;
let t: TestApp;
const grantTypes: string[] = [];
const grantIds = new Set<string>();

beforeAll(async () => {
  t = await startTestApp('refresh', {}, { idpAccessTokenTtlSeconds: TTL });
  const provider = t.server.example.idp!.provider;
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => void grantTypes.push(String(ctx.oidc.params?.grant_type)));
  provider.on('grant.saved', (grant: { jti: string }) => void grantIds.add(grant.jti));
});

afterAll(async () => {
  await t.close();
});

async function signedIn(): Promise<CookieJar> {
  const jar = new CookieJar();
  const { callback } = await signIn(jar, t.base, { returnTo: '/profile' });
  expect(callback.status).toBe(302);
  return jar;
}

describe('GET /profile when the access token needs a refresh', () => {
  it('refreshes it at the IdP first, then calls /api/me with the new token', async () => {
    const jar = await signedIn();
    await pastExpiryOfTokensFromNow(TTL);
    const before = grantTypes.filter((g) => g === 'refresh_token').length;
    const page = await request(jar, `${t.base}/profile`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('token: 200)');
    expect(page.body).toContain(`<dd id="sub">${DEMO_USER.sub}</dd>`);
    expect(grantTypes.filter((g) => g === 'refresh_token').length).toBeGreaterThan(before);
  });

  it('makes exactly one refresh grant for one view after expiry, and none for views right after sign-in', async () => {
    const jar = await signedIn();
    const refreshes = () => grantTypes.filter((g) => g === 'refresh_token').length;
    const fresh = refreshes();
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
    expect(refreshes()).toBe(fresh);
    await pastExpiryOfTokensFromNow(TTL);
    const before = refreshes();
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
    expect(refreshes()).toBe(before + 1);
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
    expect(refreshes()).toBe(before + 1);
  });

  it('signs out and redirects to /login?returnTo=/profile when the IdP answers invalid_grant', async () => {
    const jar = await signedIn();
    const provider = t.server.example.idp!.provider;
    // The IdP forgets every grant: the refresh token is refused with invalid_grant.
    for (const id of grantIds) await (await provider.Grant.find(id))?.destroy();
    await pastExpiryOfTokensFromNow(TTL);

    const page = await request(jar, `${t.base}/profile`);
    expect(page.status).toBe(302);
    const location = new URL(page.location as string);
    expect(location.pathname).toBe('/login');
    expect(location.searchParams.get('returnTo')).toBe('/profile');

    // Signed out for good: the home page offers to log in again.
    const home = await request(jar, `${t.base}/`);
    expect(home.body).toContain('>Log in</a>');
    expect((await request(jar, `${t.base}/profile`)).status).toBe(302);
  });
});
