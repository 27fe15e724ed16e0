// NETIO's JSON API (NETIO PowerPDU 4C/4PS/4KS/8QS, PowerBOX 3Px/4Kx, PowerDIN 4PZ, NETIO 4/4All;
// NETIO's "M2M API Protocol JSON" and application note AN21), as a PDU backend:
//
// - GET /netio.json gives the device's state: {"Agent": {...}, "Outputs": [{"ID": 1,
//   "Name": "...", "State": 0|1, "Action": 6, "Delay": 5000, ...}, ...]};
// - POST /netio.json with {"Outputs": [{"ID": n, "Action": a}]} switches output n and
//   answers the updated document. Actions: 0 off, 1 on, 2 short off, 3 short on, 4 toggle,
//   5 no change, 6 ignore (State is used instead);
// - credentials are HTTP basic authentication, one user for reading and one for reading
//   and writing; 401 is a wrong user or password, 403 a user that may only read, 400 a
//   control command the device does not take (NETIO's Python library reads them so).
//
// An outlet is found in the GET's Outputs before it is first switched: a wrong outlet is a
// lab error naming it and the ones the PDU has, never a blind POST.
import { kindOf, LabError } from '../../errors.js';
import type { PowerAction } from '../base.js';
import type { PduBackend, PduModel, PduReach, PduSettings } from './pdu-backend.js';

interface NetioOutput {
  ID: number;
  Name?: string;
  State: number;
  Action?: number;
  Delay?: number;
}

interface NetioDoc {
  Agent?: { Model?: string; DeviceName?: string; NumOutputs?: number };
  Outputs?: NetioOutput[];
}

/** NETIO's output actions (the M2M API's numbers). */
export const NETIO_ACTION = { off: 0, on: 1, shortOff: 2, shortOn: 3, toggle: 4, noChange: 5, ignore: 6 } as const;

export class NetioPdu implements PduBackend {
  readonly describe: string;
  /** The outlet was seen in the PDU's list. */
  private known = false;

  constructor(
    private s: PduSettings & { port: number },
    private reach: PduReach,
  ) {
    this.describe = `NETIO ${s.host}:${s.port} output ${s.outlet}${reach.where}`;
  }

  private fail(why: string): LabError {
    return new LabError('power', `${this.describe}: ${why}`);
  }

  /** One request to /netio.json, its answer's document. */
  private async call(a: PowerAction, body?: object): Promise<NetioDoc> {
    const method = body ? 'POST' : 'GET';
    const headers: Record<string, string> = { accept: 'application/json' };
    const { user, password } = this.s;
    if (user !== undefined || password !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64')}`;
    const text = body ? JSON.stringify(body) : undefined;
    if (text) headers['content-type'] = 'application/json';
    a.write(`> ${method} /netio.json${text ? ` ${text}` : ''}\n`);
    let r: Awaited<ReturnType<PduReach['request']>>;
    try {
      r = await this.reach.request({ method, path: '/netio.json', headers, body: text }, a.signal);
    } catch (e) {
      if (a.signal.aborted) throw a.signal.reason;
      if (kindOf(e) === 'config') throw e;
      throw this.fail(
        `cannot reach the PDU: ${(e as Error).message} (is it on the network, with its JSON API enabled?)`,
      );
    }
    a.write(`< HTTP ${r.status}\n`);
    const who = user ? `user "${user}"` : 'a request without a user';
    if (r.status === 401)
      throw this.fail(`the PDU refused ${who} (HTTP 401): check [power] user and password against its JSON API's`);
    if (r.status === 403) throw this.fail(`${who} may only read (HTTP 403): give the JSON API's read-write user`);
    if (r.status === 400) throw this.fail(`the PDU refused the control command ${text ?? ''} (HTTP 400)`);
    if (r.status === 404)
      throw this.fail(
        'there is no /netio.json there (HTTP 404): enable the JSON API (M2M API protocols), or check host and port',
      );
    if (r.status < 200 || r.status > 299) throw this.fail(`the PDU answered HTTP ${r.status}`);
    try {
      return JSON.parse(r.body) as NetioDoc;
    } catch {
      throw this.fail(`the PDU's answer is not NETIO's JSON: ${JSON.stringify(r.body.slice(0, 80))}`);
    }
  }

  /** The outlet in the document; a PDU without it is a lab error naming the outlets it has. */
  private output(doc: NetioDoc): NetioOutput {
    const outs = Array.isArray(doc.Outputs) ? doc.Outputs : [];
    const o = outs.find((x) => x.ID === this.s.outlet);
    if (!o) {
      const ids = outs.map((x) => x.ID).join(', ');
      throw this.fail(
        `the PDU has no output ${this.s.outlet}${ids ? ` (its outputs: ${ids})` : ''}: check [power] outlet`,
      );
    }
    this.known = true;
    return o;
  }

  async get(a: PowerAction): Promise<'on' | 'off'> {
    return this.output(await this.call(a)).State === 1 ? 'on' : 'off';
  }

  async set(on: boolean, a: PowerAction): Promise<void> {
    if (!this.known) this.output(await this.call(a));
    const action = on ? NETIO_ACTION.on : NETIO_ACTION.off;
    const doc = await this.call(a, { Outputs: [{ ID: this.s.outlet, Action: action }] });
    const o = Array.isArray(doc.Outputs) ? doc.Outputs.find((x) => x.ID === this.s.outlet) : undefined;
    if (!o) {
      a.note('the PDU answered without the output: its state is read next time');
      return;
    }
    a.note(`output ${o.ID}${o.Name ? ` "${o.Name}"` : ''}: State ${o.State}`);
    if (o.State !== action)
      throw this.fail(
        `the PDU says the output is still ${o.State === 1 ? 'on' : 'off'} after switching it ${on ? 'on' : 'off'}`,
      );
  }
}

export const netio: PduModel = {
  summary:
    "NETIO's JSON API (`/netio.json`: PowerPDU, PowerBOX, PowerDIN, NETIO 4), `user`/`password` its read-write user",
  defaultPort: 80,
  create: (s, reach) => new NetioPdu(s, reach),
};
