/**
 * Client authentication with a shared secret at the authorization server's back-channel
 * endpoints (RFC 6749 §2.3.1), for both halves: the sign-in's token, PAR and revocation requests
 * and the guard's introspection requests (RFC 7662 §2.1).
 */

/** `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B, the WHATWG URL rules). */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * Adds the client's id and secret to a request: `client_secret_basic` as `Authorization: Basic`
 * of the form-urlencoded id and secret (each is encoded before base64, so `:` or `%` in a secret
 * survive), `client_secret_post` as `client_id` and `client_secret` in the form body.
 */
export function applyClientSecret(
  method: 'client_secret_basic' | 'client_secret_post',
  clientID: string,
  clientSecret: string,
  form: Record<string, string>,
  headers: Record<string, string>,
): void {
  if (method === 'client_secret_post') {
    form.client_id = clientID;
    form.client_secret = clientSecret;
    return;
  }
  headers.authorization = `Basic ${Buffer.from(`${formEncode(clientID)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}
