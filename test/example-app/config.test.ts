import { ConfigError, loadConfig } from '../../example-app/config.js';

describe('example app configuration (docs/CONTRACT.md "Start")', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      baseURL: 'http://localhost:3000',
      issuerBaseURL: undefined,
      clientID: 'example-app',
      scope: 'openid profile email offline_access',
      audience: 'http://localhost:3000/api',
      redisURL: undefined,
      production: false,
      idpPort: 0,
    });
  });

  it('derives BASE_URL and AUDIENCE from PORT, and AUDIENCE from BASE_URL', () => {
    expect(loadConfig({ PORT: '4100' })).toMatchObject({ baseURL: 'http://localhost:4100', audience: 'http://localhost:4100/api' });
    expect(loadConfig({ BASE_URL: 'https://app.example/' })).toMatchObject({
      baseURL: 'https://app.example',
      audience: 'https://app.example/api',
    });
    expect(loadConfig({ PORT: '0' }, 45123).baseURL).toBe('http://localhost:45123');
  });

  it('takes every variable the contract names', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      BASE_URL: 'https://app.example',
      ISSUER_BASE_URL: 'https://issuer.example/',
      CLIENT_ID: 'client',
      CLIENT_SECRET: 'client-secret',
      SCOPE: 'openid email',
      AUDIENCE: 'https://api.example',
      SESSION_SECRET: 'x'.repeat(40),
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      IDP_PORT: '4000',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      baseURL: 'https://app.example',
      issuerBaseURL: 'https://issuer.example',
      clientID: 'client',
      clientSecret: 'client-secret',
      scope: 'openid email',
      audience: 'https://api.example',
      sessionSecret: 'x'.repeat(40),
      redisURL: 'redis://127.0.0.1:6379/2',
      idpPort: 4000,
      warnings: [],
    });
  });

  it('accepts SECRET as the session secret when SESSION_SECRET is unset', () => {
    expect(loadConfig({ SECRET: 's'.repeat(40) }).sessionSecret).toBe('s'.repeat(40));
  });

  describe('development without REDIS_URL or SESSION_SECRET', () => {
    it('warns about the memory store and the random secret', () => {
      const config = loadConfig({});
      expect(config.warnings).toEqual([
        expect.stringContaining('REDIS_URL is not set'),
        expect.stringContaining('SESSION_SECRET is not set'),
      ]);
    });

    it('makes a random secret of at least 32 characters, different per read', () => {
      const a = loadConfig({}).sessionSecret;
      const b = loadConfig({}).sessionSecret;
      expect(a.length).toBeGreaterThanOrEqual(32);
      expect(a).not.toBe(b);
    });
  });

  describe('NODE_ENV=production', () => {
    const ok = { NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:6379', SESSION_SECRET: 'p'.repeat(40) };

    it('refuses to start without REDIS_URL, naming it', () => {
      expect(() => loadConfig({ ...ok, REDIS_URL: undefined })).toThrow(ConfigError);
      expect(() => loadConfig({ ...ok, REDIS_URL: undefined })).toThrow(/requires REDIS_URL\b/);
    });

    it('refuses to start without SESSION_SECRET, naming it', () => {
      expect(() => loadConfig({ ...ok, SESSION_SECRET: undefined })).toThrow(/requires SESSION_SECRET \(or SECRET\)/);
    });

    it('names both when both are missing, in one line', () => {
      let message = '';
      try {
        loadConfig({ NODE_ENV: 'production' });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/REDIS_URL and SESSION_SECRET/);
      expect(message).not.toContain('\n');
    });

    it('starts with both set (SECRET also counts)', () => {
      expect(loadConfig(ok).production).toBe(true);
      expect(loadConfig({ ...ok, SESSION_SECRET: undefined, SECRET: 'q'.repeat(40) }).sessionSecret).toBe('q'.repeat(40));
    });
  });

  describe('malformed values', () => {
    it.each([
      ['PORT', { PORT: 'eighty' }, /PORT must be a port number/],
      ['PORT', { PORT: '70000' }, /PORT must be a port number/],
      ['IDP_PORT', { IDP_PORT: '-1' }, /IDP_PORT must be a port number/],
      ['BASE_URL', { BASE_URL: 'localhost:3000' }, /BASE_URL must be an absolute http\(s\) URL/],
      ['ISSUER_BASE_URL', { ISSUER_BASE_URL: 'ftp://issuer', CLIENT_SECRET: 'x' }, /ISSUER_BASE_URL must be/],
      ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL must be a redis:\/\//],
    ])('refuses a bad %s', (_name, env, message) => {
      expect(() => loadConfig(env)).toThrow(message);
    });

    it('requires CLIENT_SECRET with a real issuer (the app is a confidential client)', () => {
      expect(() => loadConfig({ ISSUER_BASE_URL: 'https://issuer.example' })).toThrow(/CLIENT_SECRET is required/);
    });
  });
});
