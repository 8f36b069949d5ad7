/**
 * Google's ID tokens may carry `iss: "accounts.google.com"` (no scheme) although its discovery
 * document says `https://accounts.google.com`; Google documents both as valid
 * (developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken). The allowance
 * is for that issuer only: every other issuer is still compared exactly (OIDC Core §3.1.3.7).
 */
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { validateIdToken, type IdTokenChecks } from '../../src/login/id-token.js';

let privateKey: CryptoKey;
let publicKey: CryptoKey;

beforeAll(async () => {
  ({ privateKey, publicKey } = await generateKeyPair('RS256'));
});

function checks(issuer: string): IdTokenChecks {
  return { getKey: async () => publicKey, issuer, clientID: 'client-1', algorithms: ['RS256'], clockTolerance: 5, nonce: 'n-1' };
}

async function idToken(iss: string): Promise<string> {
  return new SignJWT({ nonce: 'n-1' })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer(iss)
    .setSubject('1234567890')
    .setAudience('client-1')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

describe('OIDC Core §3.1.3.7 item 2: the iss of Google ID tokens', () => {
  it('accepts "accounts.google.com" when the issuer is https://accounts.google.com', async () => {
    await expect(validateIdToken(await idToken('accounts.google.com'), checks('https://accounts.google.com'))).resolves.toMatchObject({
      sub: '1234567890',
    });
  });

  it('accepts "https://accounts.google.com" too', async () => {
    await expect(
      validateIdToken(await idToken('https://accounts.google.com'), checks('https://accounts.google.com')),
    ).resolves.toMatchObject({
      sub: '1234567890',
    });
  });

  it('still compares every other issuer exactly: a scheme-less iss elsewhere is refused', async () => {
    await expect(validateIdToken(await idToken('login.example.com'), checks('https://login.example.com'))).rejects.toMatchObject({
      status: 400,
    });
  });
});
