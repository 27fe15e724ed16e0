#!/usr/bin/env node
// The `hil` command. The runner and the suites' specs are TypeScript; tsx compiles them
// as they load, so there is no build step between editing a spec and running it.
import { register } from 'tsx/esm/api';

register();
await import('../runner/cli/main.ts');
