// The bare scripted minimum, as a process of its own: what a lab's hand-written script does
// to run the Linux shell case on the virtual board, and nothing more. No configuration, no
// transcript, no CRC check, no completion markers, no results. Start QEMU paused, open the
// pty, let it run, press a key on the countdown, set the network, two tftpboots, booti,
// wait for the shell prompt, type the case's command, wait for its answer, end QEMU.
// `npm run bench` times this whole process against the whole `hil run` process.
//   node bench/minimal-boot.mjs KERNEL INITRD
import { spawn } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';

const [kernel, initrd] = process.argv.slice(2);
// BENCH_TRACE=1: when each step ended, to compare with a runner's timed transcript.
const t0 = performance.now();
const trace = (what) =>
  process.env.BENCH_TRACE && process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(3)}] ${what}\n`);
const tftp = mkdtempSync(path.join(os.tmpdir(), 'hil-min-'));
linkSync(kernel, path.join(tftp, 'Image'));
linkSync(initrd, path.join(tftp, 'initrd'));
const qemu = spawn(
  'qemu-system-aarch64',
  [
    ...['-M', 'virt', '-cpu', 'cortex-a57', '-m', '512', '-display', 'none'],
    ...['-bios', '/usr/lib/u-boot/qemu_arm64/u-boot.bin', '-chardev', 'pty,id=s0', '-serial', 'chardev:s0'],
    ...['-netdev', `user,id=n0,tftp=${tftp}`, '-device', 'virtio-net-device,netdev=n0', '-S', '-monitor', 'stdio'],
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const exited = new Promise((r) => qemu.once('exit', r));
try {
  let out = '';
  const pty = await new Promise((resolve) =>
    qemu.stdout.on('data', (d) => {
      out += d;
      const m = /\/dev\/pts\/\d+/.exec(out);
      if (m) resolve(m[0]);
    }),
  );
  const port = new SerialPort({ path: pty, baudRate: 115200 });
  await new Promise((r) => port.on('open', r));
  let buf = '';
  let check = () => {};
  port.on('data', (d) => {
    buf += d.toString('latin1');
    check();
  });
  const wait = (re) =>
    new Promise((resolve) => {
      check = () => {
        const m = re.exec(buf);
        if (!m) return;
        buf = buf.slice(m.index + m[0].length);
        check = () => {};
        resolve();
      };
      check();
    });
  const prompt = /\n=> $/;
  trace('console open');
  qemu.stdin.write('cont\n');
  await wait(/Hit any key/);
  trace('countdown');
  port.write(' ');
  await wait(prompt);
  trace('prompt');
  for (const cmd of [
    'setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2',
    'tftpboot ${kernel_addr_r} Image',
    'tftpboot ${ramdisk_addr_r} initrd',
  ]) {
    port.write(`${cmd}\r`);
    await wait(prompt);
    trace(cmd);
  }
  port.write(`booti \${kernel_addr_r} \${ramdisk_addr_r}:0x${statSync(initrd).size.toString(16)} \${fdtcontroladdr}\r`);
  await wait(/root@hil-guest:~# /);
  trace('shell prompt');
  port.write("pwd && echo 'guest test pass!'\n");
  await wait(/\nguest test pass!/);
  trace('answer');
  await new Promise((r) => port.close(r));
} finally {
  qemu.kill('SIGTERM');
  await exited;
  trace('QEMU ended');
  rmSync(tftp, { recursive: true, force: true });
}
