/**
 * Run by test/issuer/proxy.test.ts in a child process (through tsx), because Node reads
 * `NODE_EXTRA_CA_CERTS` only at start-up: `requireBearer()` at the https issuer of `ISSUER`,
 * with the proxy variables the parent set, checks the token of `TOKEN` and prints the answer.
 */
import express from 'express';
import request from 'supertest';
import { requireBearer } from '../../src/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const guard = requireBearer({ issuerBaseURL: process.env.ISSUER, audience: 'https://api.example.test', logger: quiet });
const app = express().use(guard, (req, res) => {
  res.json({ sub: req.auth?.payload.sub });
});
const res = await request(app).get('/').set('authorization', `Bearer ${process.env.TOKEN}`);
process.stdout.write(JSON.stringify({ status: res.status, body: res.body as unknown }));
