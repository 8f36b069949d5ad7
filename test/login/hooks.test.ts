/**
 * The app's hooks into the sign-in, against a real authorization server (oidc-provider) and a real
 * Redis: afterCallback (reshape or refuse), getLoginState, per-call authorization parameters
 * (res.oidc.login / req.oidc.login), tokenEndpointParams, and the claim page guards (requiresClaim).
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { AuthError, requiresClaim, type AuthRouter } from '../../src/index.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { signInAtProvider, startProvider, type TestProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import {
  accessTokenRoute,
  expectLoginRedirect,
  sessionIdOf,
  startAppServer,
  startLoginApp,
  type AppServer,
  type LoginApp,
} from './setup.js';

const COOKIE = 'oidc.sid';
let app: LoginApp;
/** A second app (getLoginState cases), registered at the provider too. */
let other: AppServer;
let provider: TestProvider;
let redis: Redis;
/** What afterCallback saw, last call. */
let seen: { state: Record<string, unknown>; tokenTypes: string[]; hasRefresh: boolean; dpopKeyShown: boolean } | undefined;

beforeAll(async () => {
  other = await startAppServer();
});

const handle = useLoginApp({
  file: 'hooks',
  issuer: ({ url }) => startProvider({ redirectUris: [`${url}/callback`, `${other.url}/callback`] }),
  auth: {
    authorizationParams: { ui_locales: 'en' },
    getLoginState: (req, options) => ({
      tag: typeof req.query.tag === 'string' ? req.query.tag : 'none',
      askedReturnTo: options.returnTo ?? null,
    }),
    afterCallback: async (_req, res, session, state) => {
      seen = {
        state,
        tokenTypes: [session.tokenSet.token_type],
        hasRefresh: typeof session.tokenSet.refresh_token === 'string',
        dpopKeyShown: 'dpop_key' in session.tokenSet,
      };
      const sub = session.claims.sub;
      if (sub === 'mallory') throw new Error('mallory is banned');
      if (sub === 'geo') throw new AuthError('access_denied', 451, 'Not available in your region.');
      if (sub === 'newbie') {
        res.redirect(302, '/signup');
        return session;
      }
      return {
        ...session,
        claims: {
          ...session.claims,
          sub: 'spoofed',
          tier: sub === 'alice' ? 'gold' : 'silver',
          roles: sub === 'alice' ? ['admin', 'dev'] : ['dev'],
          tag: state.tag,
        },
      };
    },
  },
  routes: (routes) => {
    routes.get('/', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated(), user: req.oidc.user ?? null });
    });
    routes.get('/custom-login', (_req, res) => {
      void res.oidc.login({ returnTo: '/after', authorizationParams: { ui_locales: 'de', scope: 'openid email', prompt: 'login' } });
    });
    routes.get('/req-login', (req, res) => {
      void req.oidc.login(res, { returnTo: '/via-req' });
    });
    routes.get('/bad-login', (_req, res) => {
      void res.oidc.login({ authorizationParams: { redirect_uri: 'https://evil.example/cb' } });
    });
    routes.get('/gold', requiresClaim.equals('tier', 'gold'), (_req, res) => {
      res.json({ ok: 'gold' });
    });
    routes.get('/admin', requiresClaim.includes('roles', 'admin', 'dev'), (_req, res) => {
      res.json({ ok: 'admin' });
    });
    routes.get('/scoped', requiresClaim.includes('scope_words', 'read'), (_req, res) => {
      res.json({ ok: 'scoped' });
    });
    routes.get(
      '/named',
      requiresClaim.check(async (_req, claims) => typeof claims.name === 'string' && claims.name.startsWith('User al')),
      (_req, res) => {
        res.json({ ok: 'named' });
      },
    );
  },
});

const prefix = handle.prefix;

beforeAll(() => {
  redis = handle.redis;
  app = handle.app;
  provider = handle.issuer;
});

afterAll(async () => {
  await other.close();
});

beforeEach(() => {
  seen = undefined;
});

/** From a hop that redirects to the issuer, through the provider, to the callback's answer. */
async function complete(browser: Browser, toIssuer: Hop, account: string): Promise<Hop> {
  expect(toIssuer.status).toBe(302);
  const back = await signInAtProvider(browser, toIssuer.location!, app.url, account);
  return browser.get(back.location!);
}

async function signIn(browser: Browser, account: string, path = '/login?returnTo=/home'): Promise<Hop> {
  return complete(browser, await browser.get(`${app.url}${path}`), account);
}

async function home(browser: Browser): Promise<{ signedIn: boolean; user: Record<string, unknown> | null }> {
  return JSON.parse((await browser.get(`${app.url}/`, { accept: 'application/json' })).text) as {
    signedIn: boolean;
    user: Record<string, unknown> | null;
  };
}

describe('afterCallback › reshapes the session', () => {
  it('keeps the claims it returns as req.oidc.user, with the validated sub', async () => {
    const browser = new Browser();
    const done = await signIn(browser, 'alice', '/login?returnTo=/home&tag=campaign-7');
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/home`);
    const { signedIn, user } = await home(browser);
    expect(signedIn).toBe(true);
    expect(user).toMatchObject({ sub: 'alice', tier: 'gold', roles: ['admin', 'dev'], tag: 'campaign-7', email: 'alice@example.test' });
  });

  it('gets the token set without the DPoP key, and the login state from getLoginState', async () => {
    await signIn(new Browser(), 'bob', '/login?returnTo=/x&tag=t1');
    expect(seen).toEqual({ state: { tag: 't1', askedReturnTo: '/x' }, tokenTypes: ['Bearer'], hasRefresh: true, dpopKeyShown: false });
  });

  it('seals the login state into the transaction: it is not in Redis in clear', async () => {
    const browser = new Browser();
    await browser.get(`${app.url}/login?tag=very-private-tag-value`);
    const sid = sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value);
    const raw = await redis.get(`${prefix}sess:${sid}`);
    expect(raw).not.toBeNull();
    expect(raw).not.toContain('very-private-tag-value');
  });
});

describe('afterCallback › refuses the sign-in', () => {
  it('answers 403 access_denied when it throws, with no session', async () => {
    const browser = new Browser();
    const done = await signIn(browser, 'mallory');
    expect(done.status).toBe(403);
    expect(done.text).toContain('The sign-in was refused.');
    expect(done.text).not.toContain('mallory is banned');
    expect((await home(browser)).signedIn).toBe(false);
  });

  it('answers an AuthError it throws as it is', async () => {
    const browser = new Browser();
    const done = await complete(browser, await browser.get(`${app.url}/login`, { accept: 'application/json' }), 'geo');
    expect(done.status).toBe(451);
    expect((await home(browser)).signedIn).toBe(false);
  });

  it('lets the hook answer with its own redirect, and signs nobody in', async () => {
    const browser = new Browser();
    const done = await signIn(browser, 'newbie');
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/signup`);
    expect((await home(browser)).signedIn).toBe(false);
  });

  it('consumed the state: replaying the callback of a refused sign-in is refused too', async () => {
    const browser = new Browser();
    const login = await browser.get(`${app.url}/login`);
    const back = await signInAtProvider(browser, login.location!, app.url, 'mallory');
    expect((await browser.get(back.location!)).status).toBe(403);
    expect((await browser.get(back.location!)).status).toBe(400);
  });
});

describe('res.oidc.login() and req.oidc.login() (per-call authorization parameters)', () => {
  it('overlays the call’s parameters on the global ones and honours returnTo', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/custom-login`);
    expect(hop.status).toBe(302);
    expect(hop.headers.get('cache-control')).toContain('no-store');
    const params = new URL(hop.location!).searchParams;
    expect(params.get('ui_locales')).toBe('de');
    expect(params.get('scope')).toBe('openid email');
    expect(params.get('prompt')).toBe('login');
    expect(params.get('redirect_uri')).toBe(`${app.url}/callback`);
    const done = await complete(browser, hop, 'alice');
    expect(done.location).toBe(`${app.url}/after`);
    expect(seen!.state).toEqual({ tag: 'none', askedReturnTo: '/after' });
    // scope 'openid email': no profile claim (name) in the ID token.
    const { user } = await home(browser);
    expect(user).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
    expect(user!.name).toBeUndefined();
  });

  it('keeps the global parameters on the plain /login route', async () => {
    const hop = await new Browser().get(`${app.url}/login`);
    const params = new URL(hop.location!).searchParams;
    expect(params.get('ui_locales')).toBe('en');
    expect(params.get('scope')).toBe('openid profile email');
    expect(params.get('prompt')).toBeNull();
  });

  it('req.oidc.login(res) does the same', async () => {
    const browser = new Browser();
    const done = await complete(browser, await browser.get(`${app.url}/req-login`), 'bob');
    expect(done.location).toBe(`${app.url}/via-req`);
  });

  it('refuses a reserved parameter with an error page and no redirect', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/bad-login`);
    expect(hop.status).toBe(500);
    expect(hop.location).toBeUndefined();
    expect(hop.text).not.toContain('evil.example');
  });
});

describe('requiresClaim (page guards on req.oidc.user)', () => {
  let alice: Browser;
  let bob: Browser;
  beforeAll(async () => {
    alice = new Browser();
    bob = new Browser();
    await signIn(alice, 'alice');
    await signIn(bob, 'bob');
  });

  it('equals: lets the matching user in, answers 403 access_denied to the others', async () => {
    expect((await alice.get(`${app.url}/gold`)).status).toBe(200);
    const refused = await bob.get(`${app.url}/gold`, { accept: 'application/json' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual({
      error: 'access_denied',
      error_description: 'Your account is not allowed to see this page.',
    });
  });

  it('includes: every value must be in the array claim', async () => {
    expect((await alice.get(`${app.url}/admin`)).status).toBe(200);
    expect((await bob.get(`${app.url}/admin`)).status).toBe(403);
  });

  it('includes: a missing claim is refused', async () => {
    expect((await alice.get(`${app.url}/scoped`)).status).toBe(403);
  });

  it('check: runs the predicate on the claims', async () => {
    expect((await alice.get(`${app.url}/named`)).status).toBe(200);
    expect((await bob.get(`${app.url}/named`)).status).toBe(403);
  });

  it('sends a signed-out browser to the login route first', async () => {
    expectLoginRedirect(await new Browser().get(`${app.url}/gold`), '/gold');
    expect((await new Browser().get(`${app.url}/gold`, { accept: 'application/json' })).status).toBe(401);
  });

  it('checks its arguments when the guard is made', () => {
    expect(() => requiresClaim.equals('', 'x')).toThrow('Option "requiresClaim.equals(claim)" must be a claim name (a non-empty string).');
    expect(() => requiresClaim.equals('role', {} as never)).toThrow(
      'Option "requiresClaim.equals(expected)" must be a string, number, boolean or null.',
    );
    expect(() => requiresClaim.includes('roles')).toThrow(
      'Option "requiresClaim.includes(...expected)" must be one or more strings, numbers or booleans.',
    );
    expect(() => requiresClaim.check('yes' as never)).toThrow(
      'Option "requiresClaim.check(predicate)" must be a function (req, claims) => boolean.',
    );
  });
});

describe('getLoginState › what it may return', () => {
  let otherOidc: AuthRouter;
  let state: () => unknown;

  beforeAll(async () => {
    // `other` stays open for the file (closed in the file's afterAll): only the router is this block's.
    otherOidc = (
      await startLoginApp({ server: other, issuer: provider, prefix, auth: { getLoginState: () => state() as Record<string, unknown> } })
    ).oidc;
  });

  afterAll(async () => {
    await otherOidc.close();
  });

  it('refuses more than 4 KB of state with a 500 page, no redirect and no session', async () => {
    state = () => ({ blob: 'x'.repeat(5000) });
    const browser = new Browser();
    const hop = await browser.get(`${other.url}/login`);
    expect(hop.status).toBe(500);
    expect(hop.location).toBeUndefined();
    expect(browser.cookies(other.url).size).toBe(0);
  });

  it('refuses a state that is not an object', async () => {
    state = () => 'plain string';
    expect((await new Browser().get(`${other.url}/login`)).status).toBe(500);
  });

  it('a safe returnTo in the state replaces the sign-in’s; an unsafe one is ignored', async () => {
    state = () => ({ returnTo: '/from-state' });
    let browser = new Browser();
    let login = await browser.get(`${other.url}/login?returnTo=/from-query`);
    let back = await signInAtProvider(browser, login.location!, other.url, 'alice');
    expect((await browser.get(back.location!)).location).toBe(`${other.url}/from-state`);
    state = () => ({ returnTo: '//evil.example/' });
    browser = new Browser();
    login = await browser.get(`${other.url}/login?returnTo=/from-query`);
    back = await signInAtProvider(browser, login.location!, other.url, 'alice');
    expect((await browser.get(back.location!)).location).toBe(`${other.url}/from-query`);
  });
});

describe('tokenEndpointParams', () => {
  let issuer: HostileIssuer;
  let hostileApp: LoginApp;

  beforeAll(async () => {
    issuer = await startHostileIssuer();
    // Access tokens that expire at once: every use refreshes (the margin is capped by the lifetime).
    issuer.onToken = async (ctx) => ({ body: { ...(await ctx.valid()), expires_in: 0 } });
    hostileApp = await startLoginApp({
      issuer,
      prefix,
      auth: {
        clientSecret: 'hostile-secret',
        tokenEndpointParams: { audience: 'https://api.example', resource: 'https://api.example/' },
      },
      app: (hostileOidc) => express().use(hostileOidc).get('/token', accessTokenRoute),
    });
  });

  afterAll(async () => {
    await hostileApp.close();
    await issuer.close();
  });

  it('adds them to the code exchange and to every refresh', async () => {
    const browser = new Browser();
    const login = await browser.get(`${hostileApp.url}/login`);
    expect(login.status).toBe(302);
    const back = await browser.get(login.location!);
    expect((await browser.get(back.location!)).status).toBe(302);
    expect((await browser.get(`${hostileApp.url}/token`)).status).toBe(200);
    const [code, refresh] = issuer.tokenRequests.slice(-2);
    expect(code!.form).toMatchObject({
      grant_type: 'authorization_code',
      audience: 'https://api.example',
      resource: 'https://api.example/',
    });
    expect(refresh!.form).toMatchObject({ grant_type: 'refresh_token', audience: 'https://api.example', resource: 'https://api.example/' });
  });
});
