// Placeholder: the bearer work replaces this with the verified-token type.
export interface BearerAuth {
  payload: Record<string, unknown>;
}
