// Progress of a load: a live bar (bytes, rate, ETA) on a terminal; on a CI log, where a
// bar is noise, one line per 10 %.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function progress(
  label: string,
  total: number,
  log: (msg: string) => void,
  tty = Boolean(process.stderr.isTTY),
): Progress {
  const t0 = performance.now();
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `  ${label} [{bar}] {percentage}% | {doneMB}/{totalMB} | {rate} | ETA {eta_formatted}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        stream: process.stderr,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { doneMB: mb(0), totalMB: mb(total), rate: '-' });
    return {
      update: (done) => {
        const s = (performance.now() - t0) / 1000;
        bar.update(done, {
          doneMB: mb(done),
          totalMB: mb(total),
          rate: s > 0 ? `${(done / s / 1e3).toFixed(1)} kB/s` : '-',
        });
      },
      stop: () => bar.stop(),
    };
  }
  let shown = 0;
  return {
    update: (done) => {
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (tenth <= shown) return;
      shown = tenth;
      const s = (performance.now() - t0) / 1000;
      const rate = done / Math.max(s, 1e-3);
      const eta = rate > 0 ? (total - done) / rate : 0;
      log(
        `${label}: ${tenth * 10}% ${mb(done)}/${mb(total)}, ${(rate / 1e3).toFixed(1)} kB/s, ETA ${eta.toFixed(0)} s`,
      );
    },
    stop: () => {},
  };
}
