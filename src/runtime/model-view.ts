/**
 * A view of a model that is the model in every respect — its optional capabilities (trees,
 * input embeddings, `busy`, KV caches), its fields, `instanceof` — except for the methods a caller
 * replaces: continuous batching replaces `forward` (batched-bidirectional.ts, batched-causal.ts),
 * work counting wraps every forward (decode/autoregressive/work.ts). Methods that are not
 * replaced run on the model itself, so its own state stays where it is.
 */
type Method = (...args: unknown[]) => unknown;

/**
 * `model`, with the method named `key` replaced by what `replace(key, method)` returns (given the
 * model's own method, bound to the model), or left as it is where that is undefined.
 */
export function modelView<M extends object>(model: M, replace: (key: string, method: Method) => Method | undefined): M {
  const methods = new Map<PropertyKey, Method>();
  return new Proxy(model, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      let method = methods.get(key);
      if (method === undefined) {
        const own = (value as Method).bind(target);
        method = (typeof key === 'string' ? replace(key, own) : undefined) ?? own;
        methods.set(key, method);
      }
      return method;
    },
  });
}
