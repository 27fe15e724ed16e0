// 4. Deploy: what goes onto the board's own storage before the boot, through U-Boot: raw
//    images at a byte offset ([[storage_write]]), then every file of every "fs" guest its
//    VM config names (kernel_path, dtb_path, ramdisk_path, the UEFI firmware), each loaded
//    into RAM, written (fatwrite / mmc write), read back into other RAM and CRC-checked.
import path from 'node:path';
import { shown } from '../config/paths.js';
import type { FindingList } from '../axvisor/findings.js';
import { deployFile, writeRaw, type DeployTools } from '../transfer/deploy.js';
import { hostImage, type HostImage } from '../transfer/image.js';
import { MethodChain } from './method-chain.js';
import type { Action, CasePlan, CaseRun } from './action.js';

interface Step {
  img: HostImage;
  write: (t: DeployTools) => ReturnType<typeof deployFile>;
}

/** The images written before the boot; their checksums are taken now, before power-on. */
export function deploySteps(plan: CasePlan): Step[] {
  const steps: Step[] = plan.case.storageWrites.map((w) => {
    const img = hostImage('raw', w.image);
    return { img, write: (t) => writeRaw(t, img, w.offset) };
  });
  const a = plan.axvisor;
  if (!a?.deploy) return steps;
  for (const vm of a.vms.filter((v) => v.config.imageLocation === 'fs')) {
    const label = `VM[${vm.config.id}] ${vm.config.name}`;
    for (const f of vm.files) {
      if (!f.host) continue;
      const img = hostImage(f.role, f.host);
      steps.push({ img, write: (t) => deployFile(t, img, f.boardPath, label) });
    }
  }
  return steps;
}

const stepsOf = new WeakMap<CaseRun, Step[]>();

export const deploy: Action = {
  name: 'deploy',
  description: "deploy guests and raw images to the board's storage",
  onTimeout: 'error',
  waitingFor: 'the images were not written and checked',
  validate(plan: CasePlan, f: FindingList) {
    const where = shown(plan.case.file);
    const b = plan.board;
    if (plan.case.storageWrites.length && !b.storage)
      f.error(where, 'storage_write', `board ${b.name} has no [storage] table to write to`);
    plan.case.storageWrites.forEach((w, i) => {
      const bs = b.storage?.block_size ?? 512;
      if (w.offset % bs)
        f.error(where, `storage_write[${i}].offset`, `${w.offset} is not a multiple of the block size ${bs}`);
    });
  },
  applies(run) {
    if (!run.plan) return false;
    const steps = deploySteps(run.plan);
    stepsOf.set(run, steps);
    return steps.length > 0;
  },
  timeoutS: (run) => (stepsOf.get(run)?.length ?? 1) * run.session.board.timeouts.deploy,
  async run(run) {
    const s = run.session;
    const chain = new MethodChain(s, run.plan!.methods);
    const tools: DeployTools = {
      uboot: s.uboot,
      storage: s.storage,
      load: async (img, a) => {
        const f = await chain.load(img, a);
        run.rec.transfer(f);
        return f;
      },
      timeoutS: s.board.timeouts.deploy,
    };
    for (const step of stepsOf.get(run) ?? []) {
      const d = await step.write(tools);
      run.rec.deploy(d);
      s.log(
        `deployed ${path.basename(d.image)} to ${d.target}: ${d.bytes} bytes in ${d.seconds.toFixed(2)} s (load ` +
          `${d.load_s.toFixed(2)}, write ${d.write_s.toFixed(2)}, read back ${d.verify_s.toFixed(2)}), CRC-32 ` +
          `${d.crc32} verified`,
      );
    }
  },
};
