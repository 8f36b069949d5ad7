import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import type { JWK } from 'jose';
import { assertObject, isPlainObject, optionError, optionalString, rejectUnknown } from '../../config/assert.js';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import type { TlsIdentity } from '../mtls.js';
import type { AuthOptions, ClientAuthMethod, LoginConfig } from '../options.js';

/** Methods that authenticate without the client secret (`none`: a public client, RFC 6749 §2.1). */
const SECRETLESS: ReadonlySet<ClientAuthMethod> = new Set(['none', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);
const METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];
const ASYMMETRIC = 'an asymmetric JWS algorithm such as "RS256", "PS256", "ES256" or "EdDSA"';

function isPem(value: unknown): value is string | Buffer {
  return (typeof value === 'string' && value.length > 0) || (Buffer.isBuffer(value) && value.length > 0);
}

/** Checks `mtls` (RFC 8705): a PEM private key, a PEM certificate that goes with it, optional PEM CAs. */
function tlsIdentityConfig(input: unknown): TlsIdentity | undefined {
  if (input === undefined) return undefined;
  assertObject('mtls', input);
  rejectUnknown('mtls.', input, new Set(['key', 'cert', 'ca']));
  const { key, cert, ca } = input;
  let privateKey: KeyObject;
  try {
    if (!isPem(key)) throw new Error('not PEM');
    privateKey = createPrivateKey(key);
  } catch {
    throw optionError('mtls.key', 'a PEM private key (string or Buffer)');
  }
  let certificate: X509Certificate;
  try {
    if (!isPem(cert)) throw new Error('not PEM');
    certificate = new X509Certificate(cert);
  } catch {
    throw optionError('mtls.cert', 'a PEM certificate (string or Buffer)');
  }
  if (!certificate.checkPrivateKey(privateKey)) throw optionError('mtls.cert', 'the certificate of "mtls.key"');
  if (ca !== undefined) {
    const list = Array.isArray(ca) ? ca : [ca];
    list.forEach((item: unknown, i) => {
      if (!isPem(item) || !String(item).includes('-----BEGIN CERTIFICATE-----')) {
        throw optionError(Array.isArray(ca) ? `mtls.ca[${i}]` : 'mtls.ca', 'PEM CA certificate(s) (string or Buffer)');
      }
    });
  }
  return { key, cert, ...(ca !== undefined ? { ca: ca as NonNullable<TlsIdentity['ca']> } : {}) } as TlsIdentity;
}

/**
 * A private key: a `KeyObject` of type `private` (from `crypto.createPrivateKey()`), or a
 * private JWK (`kty` and `d`). A KeyObject is tested first: it is an object too, and reading it
 * as a JWK refused every KeyObject.
 */
export function isPrivateKey(key: unknown): key is JWK | KeyObject {
  if (key instanceof KeyObject) return key.type === 'private';
  return isPlainObject(key) && typeof key.kty === 'string' && typeof key.d === 'string';
}

export function jwkAlg(key: JWK | KeyObject): string | undefined {
  return isPlainObject(key) && typeof key.alg === 'string' ? key.alg : undefined;
}

/** `clientAssertionSigningKey` (a key or a list; the first signs) and the assertion's algorithm. */
function assertionKeyConfig(options: AuthOptions): { key: JWK | KeyObject; alg: string } {
  const input = options.clientAssertionSigningKey;
  const list: unknown[] = Array.isArray(input) ? [...(input as unknown[])] : [input];
  const expected = 'a private JWK or a private KeyObject';
  if (list.length === 0) throw optionError('clientAssertionSigningKey', `${expected}, or a non-empty list of them`);
  list.forEach((key, i) => {
    if (!isPrivateKey(key)) {
      throw optionError(
        Array.isArray(input) ? `clientAssertionSigningKey[${i}]` : 'clientAssertionSigningKey',
        expected,
        '"private_key_jwt" signs its client assertion with it',
      );
    }
  });
  const key = list[0] as JWK | KeyObject;
  const alg =
    optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ??
    jwkAlg(key) ??
    LOGIN_DEFAULTS.clientAssertionSigningAlg;
  if (/^(none|HS\d+)$/i.test(alg)) throw optionError('clientAssertionSigningAlg', ASYMMETRIC);
  return { key, alg };
}

/** The client's authentication options, checked together (OIDC Core §9, RFC 7523, RFC 8705 §2). */
export type ClientConfig = Pick<
  LoginConfig,
  'clientAuthMethod' | 'clientSecret' | 'clientAssertionSigningKey' | 'clientAssertionSigningAlg' | 'mtls'
>;

/**
 * Client authentication: the method, and what it needs (the secret, the signing key, the TLS
 * identity). `none` is a public client: it sends only `client_id`, and PKCE (always on) binds the
 * code to the browser that started the sign-in.
 */
export function clientConfig(options: AuthOptions, envSecret: string | undefined): ClientConfig {
  const clientAuthMethod = options.clientAuthMethod ?? LOGIN_DEFAULTS.clientAuthMethod;
  if (!METHODS.includes(clientAuthMethod))
    throw optionError(
      'clientAuthMethod',
      METHODS.map((m) => `"${m}"`)
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1'),
    );
  const clientSecret = optionalString('clientSecret', options.clientSecret ?? envSecret);
  const mtls = tlsIdentityConfig(options.mtls);
  if ((clientAuthMethod === 'tls_client_auth' || clientAuthMethod === 'self_signed_tls_client_auth') && mtls === undefined) {
    throw optionError('mtls', 'set', `"${clientAuthMethod}" authenticates with the TLS client certificate (RFC 8705 §2)`);
  }
  if (!SECRETLESS.has(clientAuthMethod) && clientSecret === undefined) {
    throw optionError(
      'clientSecret',
      'set',
      `"${clientAuthMethod}" authenticates with it; set it or the CLIENT_SECRET environment variable`,
    );
  }
  let clientAssertionSigningKey: JWK | KeyObject | undefined;
  let clientAssertionSigningAlg: string;
  if (clientAuthMethod === 'private_key_jwt') {
    ({ key: clientAssertionSigningKey, alg: clientAssertionSigningAlg } = assertionKeyConfig(options));
  } else if (clientAuthMethod === 'client_secret_jwt') {
    clientAssertionSigningAlg =
      optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ?? LOGIN_DEFAULTS.clientSecretJwtAlg;
    if (!/^HS(256|384|512)$/.test(clientAssertionSigningAlg)) {
      throw optionError(
        'clientAssertionSigningAlg',
        '"HS256", "HS384" or "HS512"',
        '"client_secret_jwt" signs with the client secret (RFC 7523 §2.2)',
      );
    }
  } else {
    clientAssertionSigningAlg =
      optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ?? LOGIN_DEFAULTS.clientAssertionSigningAlg;
  }
  return { clientAuthMethod, clientSecret, clientAssertionSigningKey, clientAssertionSigningAlg, mtls };
}

/** `requestObject` (JAR, RFC 9101): a private key and an asymmetric algorithm, or off. */
export function requestObjectConfig(value: AuthOptions['requestObject']): LoginConfig['requestObject'] {
  if (value === undefined) return undefined;
  assertObject('requestObject', value);
  rejectUnknown('requestObject.', value, new Set(['signingKey', 'alg']));
  const key: unknown = value.signingKey;
  if (!isPrivateKey(key)) throw optionError('requestObject.signingKey', 'a private JWK or a private KeyObject');
  const alg = optionalString('requestObject.alg', value.alg) ?? jwkAlg(key) ?? LOGIN_DEFAULTS.requestObjectSigningAlg;
  if (/^(none|HS\d+)$/i.test(alg)) throw optionError('requestObject.alg', ASYMMETRIC);
  return { signingKey: key, alg };
}
