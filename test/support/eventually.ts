/**
 * The one way tests wait: poll a condition with a deadline, never a fixed sleep.
 */

export interface EventuallyOptions {
  /** Give up after this long, in ms. Default 10 000. */
  timeoutMs?: number;
  /** Pause between two checks, in ms; 0 checks again at the next turn of the loop. Default 20. */
  stepMs?: number;
  /** Named in the error when time runs out. */
  what?: string;
}

function settings(options: EventuallyOptions | number): Required<EventuallyOptions> {
  const o = typeof options === 'number' ? { timeoutMs: options } : options;
  return { timeoutMs: o.timeoutMs ?? 10_000, stepMs: o.stepMs ?? 20, what: o.what ?? 'condition' };
}

function pause(stepMs: number): Promise<void> {
  return new Promise((resolve) => (stepMs <= 0 ? setImmediate(resolve) : setTimeout(resolve, stepMs)));
}

/** Polls `check` until it returns true, or throws `timed out waiting for <what>`. */
export async function eventually(check: () => boolean | Promise<boolean>, options: EventuallyOptions | number = {}): Promise<void> {
  await eventuallyValue(check, (ok) => ok, options, false);
}

/**
 * Polls `probe` until `ok(value)` and answers that value; a probe that throws counts as not yet
 * (unless `tolerateErrors` is false: then its error ends the wait).
 */
export async function eventuallyValue<T>(
  probe: () => T | Promise<T>,
  ok: (value: T) => boolean,
  options: EventuallyOptions | number = {},
  tolerateErrors = true,
): Promise<T> {
  const { timeoutMs, stepMs, what } = settings(options);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    let failed = false;
    try {
      value = await probe();
    } catch (err) {
      if (!tolerateErrors) throw err;
      failed = true;
    }
    if (!failed && ok(value as T)) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(stepMs);
  }
}
