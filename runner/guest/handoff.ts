// What the guest prints, timed from U-Boot's hand-off line ("Starting kernel ..."): the
// baseline comparison, the per-VM watch and the guest's test records all read the
// console this way.
import type { Console } from '../console/console.js';
import type { LineMatcher } from '../console/expect.js';

/**
 * Calls `fn` with every whole console line after the hand-off line and its seconds since
 * the hand-off. Attach it before the boot command, so a line that arrives in the same read
 * as the hand-off is not missed. Returns the function that detaches it.
 */
export function afterHandoff(
  con: Console,
  handoff: LineMatcher,
  fn: (text: string, seconds: number) => void,
): () => void {
  let t0 = -1;
  return con.lines.observe((text) => {
    if (t0 >= 0) fn(text, (performance.now() - t0) / 1000);
    else if (handoff.test(text)) t0 = performance.now();
  });
}
