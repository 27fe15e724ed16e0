// A console that went away and may come back while the board runs on: ser2net restarted on
// the lab host, a USB-serial adapter re-enumerating when the board or its hub is cycled.
// The port is opened again, the driver's own way (the same device path, the same server),
// until the board's bound ([console] reattach_timeout) runs out; meanwhile writes wait and
// reads pause, and the transcript says when it went and how long it was gone (what the
// board printed in that gap is not in it). Not back in time, it is lost for good: a lab
// error naming the port, which every phase hears (console.ts).
import { LabError } from '../errors.js';
import { type ConsolePort, PortEvents } from './port.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ReattachOptions {
  /** Seconds the port may stay away; 0: lost at once (the port is returned as it is). */
  seconds: number;
  /** The port as the transcript names it: "serial port /dev/ttyUSB0", "the console
   * connection tcp:host:port". */
  label: string;
  /** What coming back is: "reopened", "reconnected". */
  verb: string;
  /** One try at opening the port again, within `leftS`; `signal` ends it (the console closes). */
  reopen(leftS: number, signal: AbortSignal): Promise<ConsolePort>;
}

export function reattaching(first: ConsolePort, o: ReattachOptions): ConsolePort {
  if (o.seconds <= 0) return first;
  const ev = new PortEvents();
  const noteFns: ((text: string) => void)[] = [];
  const awayFns: ((away: boolean) => void)[] = [];
  const note = (text: string) => {
    for (const fn of noteFns) fn(text);
  };
  const stop = new AbortController();
  let current = first;
  /** Set while the port is away: writes wait for it. */
  let returning: Promise<void> | null = null;
  let lost: Error | null = null;
  /** A speed set since the port was opened, set again on the port that comes back. */
  let rate: number | undefined;

  const wire = (p: ConsolePort) => {
    p.onData((d) => {
      if (p === current) ev.deliver(d);
    });
    p.onNote?.(note);
    p.onLost((e) => {
      if (p === current) away(e);
    });
  };

  const away = (e: Error) => {
    if (ev.closing) return;
    note(`${e.message}; waiting up to ${o.seconds} s for it to come back`);
    for (const fn of awayFns) fn(true);
    const t0 = performance.now();
    const deadline = t0 + o.seconds * 1000;
    const back = (async () => {
      for (;;) {
        const left = (deadline - performance.now()) / 1000;
        if (left <= 0 || ev.closing) break;
        try {
          const p = await o.reopen(left, stop.signal);
          if (ev.closing) {
            await p.close();
            return;
          }
          current = p;
          wire(p);
          if (rate !== undefined && p.setBaud) await p.setBaud(rate);
          const gone = ((performance.now() - t0) / 1000).toFixed(2);
          note(
            `${o.label} is back after ${gone} s: ${o.verb} (the console was gone ${gone} s: what the board printed meanwhile is not in the transcript)`,
          );
          for (const fn of awayFns) fn(false);
          return;
        } catch {
          // not back yet
        }
        await sleep(Math.min(100, Math.max(0, deadline - performance.now())));
      }
      lost = new LabError('console', `${e.message} and did not come back within ${o.seconds} s`);
      ev.lose(lost);
    })();
    returning = back;
    void back.finally(() => {
      if (returning === back) returning = null;
    });
  };
  wire(first);

  return {
    get name() {
      return first.name;
    },
    write: async (data) => {
      if (returning) await returning;
      if (lost) throw lost;
      await current.write(data);
    },
    onData: ev.onData,
    onLost: ev.onLost,
    onNote: (fn) => void noteFns.push(fn),
    onAway: (fn) => void awayFns.push(fn),
    ...(first.setBaud
      ? {
          setBaud: async (r: number) => {
            if (returning) await returning;
            if (lost) throw lost;
            await current.setBaud!(r);
            rate = r;
          },
        }
      : {}),
    close: async () => {
      ev.closing = true;
      stop.abort(new Error('the console closed'));
      await current.close();
    },
  };
}
