import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Context, ContextManager } from "@opentelemetry/api";

/**
 * An OpenTelemetry context manager for synchronous scopes only. The service hands each request's
 * trace context on explicitly (`RequestContext.trace` → upstream spans, events, Policy Gateway
 * headers), so nothing needs a context that follows it across `await`. The SDK's default,
 * AsyncLocalStorage, would make every promise in the process pay for that. `with()` still scopes
 * synchronous code, which is all the SDK's own export path uses it for. Across an `await`,
 * `context.active()` is the root context (docs/decisions/0005-synchronous-context-manager.md).
 */
export class SynchronousContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== "function") return target;
    const fn = target as (...args: unknown[]) => unknown;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the bound function runs in our scope
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
