// Placeholder: the login work replaces this with the real session shape.
export interface OidcSessionData {
  [key: string]: unknown;
}
