// A module resolve hook (node:module register): `axvisor-hil/spec` in a spec, wherever the
// spec lives, is this runner's own suite/api module, so a lab's repository needs no
// installed copy of the runner and spec and runner share one copy of the API.
interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let api = '';

export function initialize(data: { api: string }): void {
  api = data.api;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === 'axvisor-hil/spec' && api) return { url: api, shortCircuit: true };
  return next(specifier, context);
}
