// 3b. Guard: the board's storage as it must be before the case. A case that writes the
//     card (a loader, a raw image, a guest that scribbles on its disk) must not leave the
//     next case a damaged board (TGOSKits #448: one case's storage carried into the next).
//     For each region the board names in [[storage.guard]] (a golden image at an offset),
//     U-Boot reads the region back and computes its CRC-32; when it differs from the golden
//     image's, the chunks that differ are found (a CRC per chunk, so the record says what
//     changed), and the golden image is written back and read back intact, as deploy writes
//     a raw image. Runs after U-Boot's prompt, before anything of the case is written.
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { closeSync, openSync, readSync } from 'node:fs';
import type { FindingList } from '../axvisor/findings.js';
import { shown } from '../config/paths.js';
import { LabError } from '../errors.js';
import type { GuardResult } from '../model/results.js';
import { writeRaw, type DeployTools } from '../transfer/deploy.js';
import { crcHex, hex, hostImage } from '../transfer/image.js';
import { MethodChain } from './method-chain.js';
import { boardCrc } from '../transfer/verify.js';
import type { Action, CaseRun } from './action.js';

type Region = { name?: string; image: string; offset: number };

const regionsOf = (run: CaseRun): Region[] => run.session.board.storage?.guard ?? [];
const fileOf = (run: CaseRun, r: Region) => path.resolve(path.dirname(run.session.board.file), r.image);

/** The chunk a region is compared in: 32 chunks at most, 64 KiB at least. */
const chunkOf = (bytes: number) => Math.max(64 * 1024, Math.ceil(bytes / 32 / 65536) * 65536);

/** Each chunk's CRC-32 of the host file. */
function hostChunks(file: string, size: number, chunk: number): string[] {
  const fd = openSync(file, 'r');
  try {
    const out: string[] = [];
    const buf = Buffer.alloc(chunk);
    for (let at = 0; at < size; at += chunk) {
      const n = readSync(fd, buf, 0, Math.min(chunk, size - at), at);
      out.push(crcHex(crc32(buf.subarray(0, n))));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

export const guard: Action = {
  name: 'guard',
  description: "check the board's storage against its golden images, and restore what a case changed",
  onTimeout: 'error',
  waitingFor: "the board's storage was not checked against its golden images",
  validate(plan, f: FindingList) {
    const b = plan.board;
    const where = shown(b.file);
    for (const [i, r] of (b.storage?.guard ?? []).entries()) {
      if (r.offset % b.storage!.block_size)
        f.error(
          where,
          `storage.guard[${i}].offset`,
          `${r.offset} is not a multiple of the block size ${b.storage!.block_size}`,
        );
      try {
        hostImage('raw', path.resolve(path.dirname(b.file), r.image));
      } catch {
        f.error(
          where,
          `storage.guard[${i}].image`,
          `${shown(path.resolve(path.dirname(b.file), r.image))} cannot be read: give the golden image of this region`,
        );
      }
    }
  },
  applies: (run) => regionsOf(run).length > 0,
  timeoutS: (run) => regionsOf(run).length * 2 * run.session.board.timeouts.deploy,
  async run(run) {
    const s = run.session;
    const storage = s.storage;
    const cfg = storage.cfg;
    const chain = new MethodChain(s, run.plan?.methods ?? s.board.load.methods);
    const tools: DeployTools = {
      uboot: s.uboot,
      storage,
      load: async (img, a) => {
        const f = await chain.load(img, a);
        run.rec.transfer(f);
        return f;
      },
      timeoutS: s.board.timeouts.deploy,
    };
    const results: GuardResult[] = [];
    await storage.prepare();
    for (const r of regionsOf(run)) {
      const t0 = performance.now();
      const img = hostImage('raw', fileOf(run, r));
      const name = r.name ?? path.basename(img.path);
      const bs = cfg.block_size;
      await storage.blocks('read', cfg.readback_addr, r.offset / bs, Math.max(1, Math.ceil(img.size / bs)));
      const found = await boardCrc(s.uboot, cfg.readback_addr, img.size, 'guard', s.board.timeouts.command);
      const res: GuardResult = {
        region: name,
        offset: r.offset,
        bytes: img.size,
        golden_crc32: crcHex(img.crc32),
        found_crc32: found,
        intact: found === crcHex(img.crc32),
        seconds: 0,
      };
      if (!res.intact) {
        // Which chunks changed: U-Boot's crc32 of each, at the read-back address plus its start.
        const chunk = chunkOf(img.size);
        const host = hostChunks(img.path, img.size, chunk);
        res.changed = [];
        for (const [i, want] of host.entries()) {
          const at = i * chunk;
          const len = Math.min(chunk, img.size - at);
          await s.uboot.run(`setexpr hil_guard ${cfg.readback_addr} + ${hex(at)}`, {
            phase: 'guard',
            timeoutS: s.board.timeouts.command,
          });
          if ((await boardCrc(s.uboot, '${hil_guard}', len, 'guard', s.board.timeouts.command)) !== want)
            res.changed.push({ offset: r.offset + at, bytes: len });
        }
        s.log(
          `storage guard: ${name} at ${r.offset} changed (CRC ${found}, golden ${res.golden_crc32}): ${
            res.changed.map((c) => `${c.offset}..${c.offset + c.bytes - 1}`).join(', ') ||
            'no chunk differs (the tail past the image?)'
          }; restoring it`,
        );
        try {
          const d = await writeRaw(tools, img, r.offset);
          run.rec.deploy(d);
          res.restored = true;
        } catch (e) {
          throw new LabError(
            'guard',
            `storage guard: ${name} could not be restored from ${shown(img.path)}: ${(e as Error).message}; the board's storage is not as the next case needs it`,
          );
        }
      }
      res.seconds = Math.round(performance.now() - t0) / 1000;
      results.push(res);
      if (res.intact) s.log(`storage guard: ${name} intact (CRC-32 ${found})`);
    }
    run.rec.set('storage_guard', results);
  },
};
