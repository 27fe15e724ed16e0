// The bare minimum sequence on the virtual board, as a plain script: no config, no
// transcript, no verification, no markers. Start QEMU paused, attach the pty, let it run,
// press a key on the countdown, set the network, two tftpboots, booti, wait for the
// guest's marker. It is the reference the runner's overhead is measured against.
import { execa } from 'execa';
import { mkdtempSync, linkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';

export interface MinimalTimes {
  total: number;
  uboot: number;
  load: number;
  guest: number;
}

export async function minimalBoot(kernel: string, initrd: string, marker: RegExp): Promise<MinimalTimes> {
  const tftp = mkdtempSync(path.join(os.tmpdir(), 'hil-min-'));
  linkSync(kernel, path.join(tftp, 'Image'));
  linkSync(initrd, path.join(tftp, 'initrd'));
  const q = execa('qemu-system-aarch64', ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '512', '-display', 'none',
    '-bios', '/usr/lib/u-boot/qemu_arm64/u-boot.bin', '-chardev', 'pty,id=s0', '-serial', 'chardev:s0',
    '-netdev', `user,id=n0,tftp=${tftp}`, '-device', 'virtio-net-device,netdev=n0', '-S', '-monitor', 'stdio'], { stdin: 'pipe', reject: false });
  try {
    let out = '';
    const pty = await new Promise<string>((res) => q.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /\/dev\/pts\/\d+/.exec(out);
      if (m) res(m[0]);
    }));
    const port = new SerialPort({ path: pty, baudRate: 115200 });
    await new Promise((r) => port.on('open', r));
    let buf = '';
    let waiter: (() => void) | null = null;
    port.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      waiter?.();
    });
    const wait = (re: RegExp) => new Promise<void>((res) => {
      const check = () => {
        const m = re.exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          waiter = null;
          res();
        }
      };
      waiter = check;
      check();
    });
    const prompt = /\n=> $/;
    const t0 = performance.now();
    q.stdin!.write('cont\n');
    await wait(/Hit any key/);
    port.write(' ');
    await wait(prompt);
    const t1 = performance.now();
    for (const cmd of ['setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2', 'tftpboot ${kernel_addr_r} Image', 'tftpboot ${ramdisk_addr_r} initrd']) {
      port.write(cmd + '\r');
      await wait(prompt);
    }
    const t2 = performance.now();
    port.write(`booti \${kernel_addr_r} \${ramdisk_addr_r}:0x${statSync(initrd).size.toString(16)} \${fdtcontroladdr}\r`);
    await wait(marker);
    const t3 = performance.now();
    await new Promise((r) => port.close(r));
    return { total: (t3 - t0) / 1000, uboot: (t1 - t0) / 1000, load: (t2 - t1) / 1000, guest: (t3 - t2) / 1000 };
  } finally {
    q.kill('SIGTERM');
    await q;
    rmSync(tftp, { recursive: true, force: true });
  }
}
