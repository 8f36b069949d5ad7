import { jwtVerify, SignJWT, generateKeyPair } from 'jose';
import { VERSION } from '../src/index.js';

describe('toolchain', () => {
  it('loads ESM-only jose and our sources', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwt = await new SignJWT({ a: 1 }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    const { payload } = await jwtVerify(jwt, publicKey);
    expect(payload.a).toBe(1);
    expect(VERSION).toBe('0.1.0');
  });
  it('loads oidc-provider', async () => {
    const { default: Provider } = await import('oidc-provider');
    expect(typeof Provider).toBe('function');
  });
});
