// Placeholder: the login work replaces this with the full request context.
export interface OidcContext {
  isAuthenticated(): boolean;
}
