// 5. Load: the images into the board's RAM, each with the first load method that works
//    (job/method-chain.ts), each checked with U-Boot's crc32 against the host's CRC-32. A raw
//    kernel goes to kernel_addr, its DTB and then its initramfs after it (the initramfs
//    last: booti takes its size from the last load). A FIT (ostool's way) is packed here,
//    now that U-Boot's addresses are known, and loaded whole.
import { statSync } from 'node:fs';
import path from 'node:path';
import { shown } from '../config/paths.js';
import type { FindingList } from '../axvisor/findings.js';
import { hex, hostImage, type HostImage } from '../transfer/image.js';
import { MethodChain } from './method-chain.js';
import { checkFitTools, FIT_CONFIG, fitAddresses, makeFit } from '../uboot/fit.js';
import type { Action, CasePlan } from './action.js';
import { BOOT_DEFAULTS } from '../drivers/registry.js';

/** U-Boot's loaders and bootm take sizes in a 32-bit signed range on most boards. */
const MAX_IMAGE = 2 ** 31 - 1;

export const load: Action = {
  name: 'load',
  description: 'load the images into RAM',
  onTimeout: 'error',
  waitingFor: 'the images were not loaded and checked',
  validate(plan: CasePlan, f: FindingList) {
    const where = shown(plan.case.file);
    for (const [role, file] of Object.entries(plan.images ?? {})) {
      if (!file) continue;
      const size = statSync(file).size;
      if (size === 0)
        f.error(where, `images.${role}`, `${shown(file)} is empty: a zero-byte image cannot boot; rebuild it`);
      else if (size > MAX_IMAGE)
        f.error(where, `images.${role}`, `${shown(file)} is ${size} bytes: U-Boot loads at most 2 GiB - 1 in one go`);
    }
    if (plan.fit) {
      const why = checkFitTools(plan.board.arch);
      if (why) f.error(where, plan.case.fit.fit_load_addr ? 'fit_load_addr' : 'kernel_load_addr', why);
    }
  },
  applies: (run) => Boolean(run.state.images?.kernel),
  timeoutS: (run) => {
    const n = Object.values(run.state.images ?? {}).filter(Boolean).length;
    const t = run.session.board.timeouts;
    return n * t.load + t.command * 4;
  },
  async run(run) {
    const s = run.session;
    const l = s.board.load;
    const images = run.state.images!;
    const chain = new MethodChain(s, run.plan?.methods ?? l.methods);
    const one = async (img: HostImage, addr: string) => {
      const f = await chain.load(img, addr);
      run.rec.transfer(f);
      s.log(
        `loaded ${img.role} ${path.basename(img.path)} by ${f.method}: ${(f.bytes / 1e6).toFixed(1)} MB in ` +
          `${f.seconds.toFixed(2)} s${f.retries ? `, ${f.retries} block(s) resent` : ''}` +
          `${f.verified ? ', CRC-32 verified' : ''}`,
      );
    };
    // A board pool's boot profile (ostool-server) says addresses and a device tree as
    // ostool uses them: under the case's keys, above the board file's; its addresses mean a FIT.
    const pool = s.provided.get(BOOT_DEFAULTS);
    if (!images.dtb && pool?.dtb) images.dtb = await pool.dtb();
    if (
      (run.plan?.fit ?? l.image_format === 'fit') ||
      pool?.kernel_load_addr ||
      pool?.fit_load_addr ||
      pool?.bootm_addr
    ) {
      const given = run.plan?.case.fit ?? {};
      const at = await fitAddresses(s.uboot, {
        kernel_load_addr: given.kernel_load_addr ?? pool?.kernel_load_addr ?? l.kernel_load_addr,
        fit_load_addr: given.fit_load_addr ?? pool?.fit_load_addr ?? l.fit_load_addr,
        bootm_addr: given.bootm_addr ?? pool?.bootm_addr ?? l.bootm_addr,
      });
      const fit = makeFit({
        arch: s.board.arch,
        kernel: images.kernel,
        dtb: images.dtb,
        initrd: images.initrd,
        at,
        out: path.join(run.dir, 'image.fit'),
      });
      s.transcript.note(`FIT image ${fit}: kernel at ${hex(at.kernel)}, loaded at ${hex(at.fit)}`);
      await one(hostImage('fit', fit), hex(at.fit));
      // The configuration is named: a U-Boot built with FIT_BEST_MATCH would otherwise pick
      // one by the device tree's compatible, and finds none in a FIT without a DTB. A FIT
      // without a DTB boots with the board's own (fdt_fallback), its initramfs taken from it.
      const fitArg = `${hex(at.bootm ?? at.fit)}#${FIT_CONFIG}`;
      run.state.bootCmds = [
        images.dtb ? `bootm ${fitArg}` : `bootm ${fitArg} ${images.initrd ? fitArg : '-'} ${l.fdt_fallback}`,
      ];
      return;
    }
    await one(hostImage('kernel', images.kernel), l.kernel_addr);
    if (images.dtb) await one(hostImage('dtb', images.dtb), l.dtb_addr);
    let rd = '-';
    if (images.initrd) {
      const img = hostImage('initrd', images.initrd);
      await one(img, l.initrd_addr);
      rd = `${l.initrd_addr}:${hex(img.size)}`;
    }
    run.state.bootCmds = [
      `${s.board.uboot.boot_cmd} ${l.kernel_addr} ${rd} ${images.dtb ? l.dtb_addr : l.fdt_fallback}`,
    ];
  },
};
