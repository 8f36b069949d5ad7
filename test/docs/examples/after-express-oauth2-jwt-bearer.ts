import express, { type Express } from 'express';
import { claimCheck, claimEquals, requireBearer, requiredScopes, type BearerOptions } from '../../../src/index.js';

/** ISSUER_BASE_URL and AUDIENCE come from the environment, as before. */
export function createApi(overrides: BearerOptions = {}): Express {
  const app = express();

  // Optional authentication: mounted first, so it is not behind the required guard below.
  // auth({ authRequired: false }) let a bad token through as anonymous; this refuses it.
  app.get('/public/feed', requireBearer({ ...overrides, credentialsRequired: false }), (req, res) => {
    res.json({ personalised: req.auth !== undefined });
  });

  app.use('/api', requireBearer(overrides));

  app.get('/api/messages', requiredScopes('read:messages'), (req, res) => {
    res.json({ sub: req.auth?.payload.sub, scopes: req.auth?.scopes });
  });

  app.post('/api/messages', requiredScopes('write:messages'), (_req, res) => {
    res.status(201).end();
  });

  app.get('/api/org', claimEquals('org_id', 'acme'), (_req, res) => {
    res.json({ org: 'acme' });
  });

  app.get('/api/beta', claimCheck((payload) => payload.beta === true, 'beta access required'), (_req, res) => {
    res.json({ beta: true });
  });

  return app;
}
