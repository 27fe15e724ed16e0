// Loading one image into the board's RAM with the first load method that works. When a
// method fails for an image (no network, a server without the file, a transfer that
// breaks), U-Boot is brought back to its prompt with Ctrl-C and the next method is tried;
// the fallback is kept in the figures (fallback_from, with the reason), never hidden.
// Later images start at the method that worked: they do not wait out the failing one.
import path from 'node:path';
import { LabError, PhaseTimeout, kindOf } from '../errors.js';
import type { BoardSession } from './session.js';
import type { HostImage, TransferFigures } from '../transfer/image.js';

export class MethodChain {
  private index = 0;

  constructor(
    private session: BoardSession,
    private methods: string[],
  ) {}

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    const s = this.session;
    const failed: { method: string; reason: string }[] = [];
    for (let i = this.index; i < this.methods.length; i++) {
      try {
        const method = this.methods[i];
        const secs = s.board.timeouts.load;
        const f = await s.within(
          secs,
          () =>
            new PhaseTimeout(
              'load',
              secs,
              'error',
              `the ${img.role} ${path.basename(img.path)} was not loaded by ${method} ([timeouts] load)`,
              s.console.lines.recent(),
            ),
          () => s.loader(method).load(img, addr),
        );
        if (failed.length) f.fallback_from = failed;
        return f;
      } catch (e) {
        const labTrouble = kindOf(e) === 'lab' || (e instanceof PhaseTimeout && e.phase === 'load');
        if (!labTrouble || s.signal.aborted) throw e;
        failed.push({ method: this.methods[i], reason: (e as Error).message });
        if (i === this.methods.length - 1) {
          throw failed.length === 1
            ? e
            : new LabError(
                'load',
                `every load method failed for the ${img.role} ${path.basename(img.path)}: ${failed.map((f) => `${f.method}: ${f.reason}`).join('; ')}`,
              );
        }
        s.log(
          `${this.methods[i]} failed for the ${img.role} (${(e as Error).message}); falling back to ${this.methods[i + 1]}`,
        );
        s.transcript.note(`falling back from ${this.methods[i]} to ${this.methods[i + 1]}`);
        this.index = i + 1;
        await s.uboot.recover('load');
      }
    }
    throw new LabError('load', 'no load method left');
  }
}
