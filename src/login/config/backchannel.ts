import { assertObject, optionError, optionalBoolean, rejectUnknown } from '../../config/assert.js';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import type { LoginConfig } from '../options.js';

const BACKCHANNEL_KEYS = new Set(['allowMissingExp']);

/** express-openid-connect's `backchannelLogout.*` hooks, and what to do instead. */
const BACKCHANNEL_INSTEAD = new Map([
  ['onLogoutToken', 'use the top-level "onLogoutToken".'],
  ['store', 'sessions are found through the session index ("session.redis"); remove it.'],
  ['isLoggedOut', 'a logged-out session no longer exists, so there is nothing to look up; remove it.'],
  ['onLogin', 'there are no logged-out markers to clear at sign-in; remove it.'],
]);

/**
 * `backchannelLogout`: choices of the back-channel logout receiver (served at
 * `routes.backchannelLogout`). `true` (express-openid-connect's "on") is the default; `false` is
 * refused with a pointer to `routes.backchannelLogout: false`, which turns the receiver off.
 */
export function backchannelLogoutConfig(value: unknown): LoginConfig['backchannelLogout'] {
  if (value === false) {
    throw optionError(
      'backchannelLogout',
      'an object such as { allowMissingExp: true }',
      'The receiver is on by default; to turn it off, set routes.backchannelLogout: false',
    );
  }
  const raw: unknown = value === undefined || value === true ? {} : value;
  assertObject('backchannelLogout', raw);
  rejectUnknown('backchannelLogout.', raw, BACKCHANNEL_KEYS, BACKCHANNEL_INSTEAD);
  return {
    allowMissingExp:
      optionalBoolean('backchannelLogout.allowMissingExp', raw.allowMissingExp) ?? LOGIN_DEFAULTS.backchannelLogoutAllowMissingExp,
  };
}
