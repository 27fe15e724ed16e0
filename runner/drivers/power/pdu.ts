// Power through a network PDU's outlet (labgrid's NetworkPowerDriver over a
// NetworkPowerPort: a model, a host, an outlet). A PDU model is a backend that only
// switches one outlet and reads it; everything else (power.log, masking, the time limit,
// the off-to-on delay, a fresh boot when the outlet is on already) is the shared base's
// (drivers/base.ts). A new model is a backend file and one line in `models` below.
//
// The PDU is reached from this host, or with `via = "lab_host"` from the board's lab host
// through its SSH connection (a PDU on the lab's own network).
import { z } from 'zod';
import { defineSwitch, type PowerAction, type PowerSwitch, powerSettings } from '../base.js';
import { httpVia, viaSetting } from '../../remote/via.js';
import { netio } from './netio.js';
import type { PduBackend, PduModel, PduReach } from './pdu-backend.js';

export type { PduBackend, PduModel, PduReach, PduSettings } from './pdu-backend.js';

/** The PDU models, by the name a board file gives in `model`. */
export const models: Record<string, PduModel> = { netio };

const settings = powerSettings({
  /** The PDU's API: "netio" (NETIO's JSON API, /netio.json). */
  model: z.enum(Object.keys(models) as [string, ...string[]]),
  host: z.string().min(1),
  /** Default: the model's (80 for netio). */
  port: z.number().int().min(1).max(65535).optional(),
  /** The outlet the board's power comes from, as the PDU numbers them (from 1). */
  outlet: z.number().int().min(1),
  /** The API's user and password (HTTP basic authentication); give the password as
   * `${secret:NAME}` so it is masked everywhere. */
  user: z.string().optional(),
  password: z.string().optional(),
  via: viaSetting,
});

class PduSwitch implements PowerSwitch {
  constructor(private b: PduBackend) {}
  get describe(): string {
    return this.b.describe;
  }
  on(a: PowerAction): Promise<void> {
    return this.b.set(true, a);
  }
  off(a: PowerAction): Promise<void> {
    return this.b.set(false, a);
  }
  state(a: PowerAction): Promise<'on' | 'off'> {
    return this.b.get(a);
  }
}

export const pduPower = defineSwitch({
  kind: 'pdu',
  summary: "a network PDU's outlet, through the PDU's HTTP API",
  notes: `${Object.entries(models)
    .map(([name, m]) => `\`model = "${name}"\`: ${m.summary}`)
    .join(
      '; ',
    )}; reads the outlet's state (a board found on is cycled for a fresh boot); \`via = "lab_host"\`: the PDU is reached from the board's \`[lab_host]\`; \`cycle_delay\` default 2 s`,
  settings,
  defaultCycleDelay: 2,
  create: (s, ctx) => {
    const model = models[s.model]!;
    const port = s.port ?? model.defaultPort;
    const reach: PduReach = httpVia(ctx.board, s.via, s.host, port, 'power kind "pdu" with via = "lab_host"');
    return new PduSwitch(model.create({ ...s, port }, reach));
  },
});
