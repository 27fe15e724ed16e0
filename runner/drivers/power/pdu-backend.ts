// What a PDU model implements (power kind "pdu", drivers/power/pdu.ts): a backend that only
// switches one outlet and reads it, and how the model makes one. Apart from pdu.ts so that a
// model's file and the kind's import it without importing each other.
import type { PowerAction } from '../base.js';
import type { HttpRequester } from '../../remote/via.js';

/** One outlet of a PDU: switch it, read it. */
export interface PduBackend {
  /** The PDU and outlet, as errors and power.log name them: `NETIO 10.0.0.5:80 output 3`. */
  readonly describe: string;
  set(on: boolean, a: PowerAction): Promise<void>;
  get(a: PowerAction): Promise<'on' | 'off'>;
}

export interface PduSettings {
  model: string;
  host: string;
  port?: number;
  outlet: number;
  user?: string;
  password?: string;
  via?: 'direct' | 'lab_host';
}

/** A PDU model: its API's name and how to make a backend for one outlet. */
export interface PduModel {
  /** One line for the README and errors: the API and the devices that speak it. */
  summary: string;
  /** The port its API listens on when the board file gives none. */
  defaultPort: number;
  create(s: PduSettings & { port: number }, reach: PduReach): PduBackend;
}

/** How a backend reaches its PDU (from here, or through the lab host): HTTP to it, and how
 * messages name the way (" via lab host u@h"). */
export interface PduReach {
  request: HttpRequester;
  where: string;
}
