/**
 * What auth() returns: a function Express calls straight into the sign-in layer, that still is a
 * Router (routes added to it work, through the router) and keeps its lifecycle extras.
 */
import express from 'express';
import request from 'supertest';
import { auth, type AuthRouter } from '../../src/index.js';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useLoginApp } from '../support/login-app.js';
import { loginOptions } from './setup.js';

const handle = useLoginApp({ file: 'router-shape', auth: { clientSecret: 'hostile-client-secret', authRequired: true } });
const prefix = handle.prefix;
let issuer: HostileIssuer;
let oidc: AuthRouter;

/** auth() options for an app at http://127.0.0.1:3000 (never listened on: supertest calls the app). */
const options = (authRequired: boolean) =>
  loginOptions(issuer, 'http://127.0.0.1:3000', prefix, { clientSecret: 'hostile-client-secret', authRequired });

beforeAll(() => {
  issuer = handle.issuer;
  oidc = handle.oidc;
});

describe('auth() return value', () => {
  it('is a Router with the lifecycle extras', () => {
    expect(typeof oidc).toBe('function');
    expect(typeof oidc.use).toBe('function');
    expect(typeof oidc.get).toBe('function');
    expect(Array.isArray(oidc.stack)).toBe(true);
    expect(typeof oidc.close).toBe('function');
    expect(typeof oidc.health).toBe('function');
    expect(typeof oidc.sessions.listBySub).toBe('function');
  });

  it('guards the app behind it and serves /login', async () => {
    const app = express()
      .use(oidc)
      .get('/page', (_req, res) => {
        res.send('page');
      });
    const page = await request(app).get('/page');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/login?returnTo=/page');
    const login = await request(app).get('/login');
    expect(login.status).toBe(302);
    expect(new URL(login.headers.location!).origin).toBe(issuer.issuer);
  });

  it('serves a route added to it, through the router, after the sign-in layer', async () => {
    const own = auth(options(false));
    try {
      own.get('/extra', (req, res) => {
        res.json({ signedIn: req.oidc.isAuthenticated() });
      });
      const app = express().use(own);
      const res = await request(app).get('/extra');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ signedIn: false });
    } finally {
      await own.close();
    }
  });
});
