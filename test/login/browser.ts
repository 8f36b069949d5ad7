/** Moved to test/support/browser.ts; this re-export keeps older imports compiling until they move. */
export { Browser, type Hop } from '../support/browser.js';
