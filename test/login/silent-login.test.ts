/**
 * attemptSilentLogin() (OIDC Core §3.1.2.1 `prompt=none`, §3.1.2.6 errors) against a real
 * authorization server (oidc-provider) and a real Redis: a browser with a session at the issuer is
 * signed in without a form, one without ends on the page signed out with no error and no loop,
 * other requests pass straight through, and errors other than "interaction needed" still show.
 */
import express from 'express';
import { attemptSilentLogin, type AuthRouter } from '../../src/index.js';
import { signInAtProvider, startProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { quiet, startAppServer, startLoginApp, type LoginApp } from './setup.js';

const SESSION_COOKIE = 'oidc.sid';
const MARKER = 'oidc.silent_tried';

/** The page the app serves: a page that tries a silent sign-in, saying who is signed in. */
function pageApp(router: AuthRouter): express.Express {
  const server = express();
  server.use(router);
  const page = (req: express.Request, res: express.Response): void => {
    res
      .type('html')
      .send(`<p>page ${req.method} ${req.oidc.isAuthenticated() ? `signed in as ${String(req.oidc.user?.sub)}` : 'signed out'}</p>`);
  };
  server.get('/page', attemptSilentLogin(), page);
  server.post('/page', attemptSilentLogin(), page);
  server.get('/data', attemptSilentLogin(), (req, res) => {
    res.json({ signedIn: req.oidc.isAuthenticated() });
  });
  return server;
}

const app = useLoginApp({
  file: 'silent-login',
  issuer: ({ url }) => startProvider({ redirectUris: [`${url}/callback`], postLogoutRedirectUris: [url] }),
  app: pageApp,
});
const prefix = app.prefix;

/** GETs `url` and follows every redirect (app and issuer alike), returning each hop. */
async function follow(browser: Browser, url: string): Promise<Hop[]> {
  const hops: Hop[] = [];
  let next: string | undefined = url;
  for (let i = 0; next !== undefined; i++) {
    if (i > 12) throw new Error(`too many redirects: ${hops.map((h) => h.url).join(' -> ')}`);
    const hop = await browser.get(next);
    hops.push(hop);
    next = hop.status >= 300 && hop.status < 400 ? hop.location : undefined;
  }
  return hops;
}

const pathOf = (hop: Hop): string => new URL(hop.url).pathname;
const atIssuer = (hop: Hop): boolean => hop.url.startsWith(app.issuer.issuer);

/** A full sign-in through /login (leaves a session at the issuer). */
async function signIn(browser: Browser, account = 'alice'): Promise<void> {
  const login = await browser.get(`${app.url}/login?returnTo=/page`);
  const back = await signInAtProvider(browser, login.location!, app.url, account);
  expect((await browser.get(back.location!)).status).toBe(302);
}

/** Starts a silent attempt on /page and returns the hop that redirects to the issuer, and its state. */
async function startSilent(browser: Browser, path = '/page'): Promise<{ hop: Hop; state: string }> {
  const hop = await browser.get(`${app.url}${path}`);
  expect(hop.status).toBe(302);
  const authorize = new URL(hop.location!);
  expect(authorize.origin).toBe(app.issuer.issuer);
  return { hop, state: authorize.searchParams.get('state')! };
}

/** The callback as the issuer would send the browser to it with an error. */
function errorCallback(state: string, error: string, iss = app.issuer.issuer): string {
  return `${app.url}/callback?${new URLSearchParams({ error, state, iss }).toString()}`;
}

describe('attemptSilentLogin() › a browser with a session at the issuer', () => {
  it('is signed in without any form: page -> authorize (prompt=none) -> callback -> page', async () => {
    const browser = new Browser();
    await signIn(browser, 'alice');
    // The app's session is gone (expired, cookie deleted); the issuer's session is alive.
    browser.cookies(app.url).delete(SESSION_COOKIE);
    const codesBefore = app.issuer.grants.authorization_code;

    const hops = await follow(browser, `${app.url}/page`);

    const first = hops[0]!;
    expect(first.status).toBe(302);
    const authorize = new URL(first.location!);
    expect(authorize.origin).toBe(app.issuer.issuer);
    expect(authorize.searchParams.get('prompt')).toBe('none');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(hops.some((hop) => atIssuer(hop) && pathOf(hop).startsWith('/interaction/'))).toBe(false);
    expect(hops.some((hop) => /<form/i.test(hop.text))).toBe(false);
    const callback = hops.find((hop) => hop.url.startsWith(`${app.url}/callback`))!;
    expect(new URL(callback.url).searchParams.get('code')).not.toBeNull();
    expect(callback.location).toBe(`${app.url}/page`);
    const last = hops.at(-1)!;
    expect(last.status).toBe(200);
    expect(last.text).toContain('page GET signed in as alice');
    expect(app.issuer.grants.authorization_code).toBe(codesBefore + 1);
    // A sign-in clears the marker the attempt set.
    expect(first.headers.getSetCookie().some((line) => line.startsWith(`${MARKER}=1`))).toBe(true);
    expect(browser.cookies(app.url).has(MARKER)).toBe(false);
  });
});

describe('attemptSilentLogin() › a browser without a session at the issuer', () => {
  it('ends on the page signed out with no error page, and the next visit does not redirect again', async () => {
    const browser = new Browser();
    const hops = await follow(browser, `${app.url}/page?tab=2`);

    expect(hops[0]!.status).toBe(302);
    expect(new URL(hops[0]!.location!).searchParams.get('prompt')).toBe('none');
    expect(hops.every((hop) => hop.status < 400)).toBe(true);
    const callback = hops.find((hop) => hop.url.startsWith(`${app.url}/callback`))!;
    expect(new URL(callback.url).searchParams.get('error')).toBe('login_required');
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/page?tab=2`);
    expect(callback.text).not.toContain('Sign-in failed');
    const last = hops.at(-1)!;
    expect(last.url).toBe(`${app.url}/page?tab=2`);
    expect(last.status).toBe(200);
    expect(last.text).toContain('page GET signed out');

    const authorizeCalls = app.issuer.requests.length;
    const again = await browser.get(`${app.url}/page?tab=2`);
    expect(again.status).toBe(200);
    expect(again.text).toContain('page GET signed out');
    const other = await browser.get(`${app.url}/page`);
    expect(other.status).toBe(200);
    expect(app.issuer.requests.length).toBe(authorizeCalls);
  });

  it('consumes the pending sign-in: replaying the login_required callback is refused', async () => {
    const browser = new Browser();
    const hops = await follow(browser, `${app.url}/page`);
    const callback = hops.find((hop) => hop.url.startsWith(`${app.url}/callback`))!;
    const replay = await browser.get(callback.url);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('does not match a sign-in in progress');
  });

  it('sets a plain marker cookie: 1, HttpOnly, SameSite=Lax, Path=/, lasting the browser session', async () => {
    const { hop } = await startSilent(new Browser());
    const line = hop.headers.getSetCookie().find((l) => l.startsWith(`${MARKER}=`))!;
    expect(line).toBeDefined();
    const attrs = line.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs[0]).toBe(`${MARKER}=1`);
    expect(attrs).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/']));
    expect(attrs.some((a) => a.startsWith('expires=') || a.startsWith('max-age='))).toBe(false);
  });

  it.each(['consent_required', 'interaction_required', 'account_selection_required'])('ends quietly on %s too', async (error) => {
    const browser = new Browser();
    const { state } = await startSilent(browser, '/page?from=test');
    const done = await browser.get(errorCallback(state, error));
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/page?from=test`);
    expect(browser.cookies(app.url).get(MARKER)?.value).toBe('1');
  });

  it('still checks iss (RFC 9207) on the quiet path: a login_required from another issuer is a 400', async () => {
    const browser = new Browser();
    const { state } = await startSilent(browser);
    const done = await browser.get(errorCallback(state, 'login_required', 'https://mix-up.example'));
    expect(done.status).toBe(400);
    expect(done.location).toBeUndefined();
    expect(done.text).toContain('another issuer');
  });

  it('sets the marker again at the callback, so even a browser that lost it does not loop', async () => {
    const browser = new Browser();
    const { state } = await startSilent(browser);
    browser.cookies(app.url).delete(MARKER);
    const done = await browser.get(errorCallback(state, 'login_required'));
    expect(done.status).toBe(302);
    expect(browser.cookies(app.url).get(MARKER)?.value).toBe('1');
    expect((await browser.get(`${app.url}/page`)).status).toBe(200);
  });
});

describe('attemptSilentLogin() › requests that pass straight through', () => {
  it('a request that wants JSON', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/data`, { accept: 'application/json' });
    expect(hop.status).toBe(200);
    expect(JSON.parse(hop.text)).toEqual({ signedIn: false });
    expect(browser.cookies(app.url).has(MARKER)).toBe(false);
  });

  it('fetch() and XHR calls: Accept */*, Sec-Fetch-Dest empty, X-Requested-With', async () => {
    expect((await new Browser().get(`${app.url}/page`, { accept: '*/*' })).status).toBe(200);
    expect((await new Browser().get(`${app.url}/page`, { 'sec-fetch-dest': 'empty' })).status).toBe(200);
    expect((await new Browser().get(`${app.url}/page`, { 'x-requested-with': 'XMLHttpRequest' })).status).toBe(200);
  });

  it('a page loaded in an iframe (Sec-Fetch-Dest iframe)', async () => {
    expect((await new Browser().get(`${app.url}/page`, { 'sec-fetch-dest': 'iframe' })).status).toBe(200);
  });

  it('a top-level navigation with Fetch Metadata is tried', async () => {
    const hop = await new Browser().get(`${app.url}/page`, { 'sec-fetch-dest': 'document' });
    expect(hop.status).toBe(302);
  });

  it('a POST', async () => {
    const hop = await new Browser().post(`${app.url}/page`, { field: 'x' });
    expect(hop.status).toBe(200);
    expect(hop.text).toContain('page POST signed out');
  });

  it('a signed-in user', async () => {
    const browser = new Browser();
    await signIn(browser, 'bob');
    const requests = app.issuer.requests.length;
    const hop = await browser.get(`${app.url}/page`);
    expect(hop.status).toBe(200);
    expect(hop.text).toContain('signed in as bob');
    expect(app.issuer.requests.length).toBe(requests);
  });
});

describe('attemptSilentLogin() › errors that are not "interaction needed"', () => {
  it('access_denied answering a silent attempt still shows the error page', async () => {
    const browser = new Browser();
    const { state } = await startSilent(browser);
    const done = await browser.get(errorCallback(state, 'access_denied'));
    expect(done.status).toBe(400);
    expect(done.location).toBeUndefined();
    expect(done.text).toContain('Sign-in failed');
    expect(done.text).toContain('access_denied');
  });

  it('access_denied from the issuer (the user cancels a normal sign-in) still shows the error page', async () => {
    const browser = new Browser();
    const login = await browser.get(`${app.url}/login?returnTo=/page`);
    const interaction = await browser.get(login.location!);
    expect(new URL(interaction.location!).pathname).toMatch(/^\/interaction\//);
    const hops = await follow(browser, `${interaction.location!}/abort`);
    const callback = hops.find((hop) => hop.url.startsWith(`${app.url}/callback`))!;
    expect(new URL(callback.url).searchParams.get('error')).toBe('access_denied');
    expect(callback.status).toBe(400);
    expect(callback.text).toContain('access_denied');
  });

  it('login_required answering a normal (not silent) sign-in still shows the error page', async () => {
    const browser = new Browser();
    const login = await browser.get(`${app.url}/login?returnTo=/page`);
    const state = new URL(login.location!).searchParams.get('state')!;
    const done = await browser.get(errorCallback(state, 'login_required'));
    expect(done.status).toBe(400);
    expect(done.text).toContain('login_required');
  });
});

describe('attemptSilentLogin() › logout', () => {
  it('sets the marker: a user who just logged out is not signed straight back in', async () => {
    const browser = new Browser();
    await signIn(browser, 'carol');
    expect(browser.cookies(app.url).has(MARKER)).toBe(false);
    const out = await browser.get(`${app.url}/logout`);
    expect(out.status).toBe(302);
    expect(browser.cookies(app.url).get(MARKER)?.value).toBe('1');
    // The issuer's session is still alive (the end-session confirmation was not followed).
    const hop = await browser.get(`${app.url}/page`);
    expect(hop.status).toBe(200);
    expect(hop.text).toContain('signed out');
  });
});

describe('attemptSilentLogin() › when the issuer is down', () => {
  let downApp: LoginApp;
  const warnings: string[] = [];

  beforeAll(async () => {
    const dead = await startAppServer();
    const deadUrl = dead.url;
    await dead.close();
    downApp = await startLoginApp({
      issuer: { issuer: deadUrl, clientId: 'client', clientSecret: 'secret' },
      prefix,
      auth: { logger: { ...quiet, warn: (message: string) => void warnings.push(message) } },
      app: pageApp,
    });
  });

  afterAll(async () => {
    await downApp.close();
  });

  it('serves the page signed out (no 503 page) and logs a warning', async () => {
    const hop = await new Browser().get(`${downApp.url}/page`);
    expect(hop.status).toBe(200);
    expect(hop.text).toContain('page GET signed out');
    expect(warnings).toContain('silent sign-in could not start; the page is served signed out');
  });
});

describe('attemptSilentLogin() › without auth()', () => {
  it('fails loudly: a 500 from next(err)', async () => {
    const bare = await startAppServer();
    try {
      const server = express();
      server.get('/page', attemptSilentLogin(), (_req, res) => {
        res.send('served');
      });
      server.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(500).send(err instanceof TypeError ? err.message : 'other');
      });
      bare.setHandler(server);
      const hop = await new Browser().get(`${bare.url}/page`);
      expect(hop.status).toBe(500);
      expect(hop.text).toBe('attemptSilentLogin() needs auth() mounted before it');
    } finally {
      await bare.close();
    }
  });
});
