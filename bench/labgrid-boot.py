#!/usr/bin/python3
# The same run through labgrid (Debian's `labgrid` package), as a process of its own: a
# lab's labgrid script for the Linux shell case on the virtual board. labgrid's own
# drivers do the work: SerialDriver on the pty, UBootDriver (countdown, prompt, commands
# with markers), ShellDriver (prompt, a command with its exit status). QEMU is started
# paused, as the runner and the minimum script start it. `npm run bench` times the
# whole process.
#   /usr/bin/python3 bench/labgrid-boot.py KERNEL INITRD
import os
import re
import shutil
import subprocess
import sys
import tempfile

from labgrid import Target
from labgrid.driver import SerialDriver, ShellDriver, UBootDriver
from labgrid.resource import RawSerialPort

kernel, initrd = sys.argv[1:3]
tftp = tempfile.mkdtemp(prefix='hil-lg-')
os.link(kernel, os.path.join(tftp, 'Image'))
os.link(initrd, os.path.join(tftp, 'initrd'))
qemu = subprocess.Popen(
    ['qemu-system-aarch64', '-M', 'virt', '-cpu', 'cortex-a57', '-m', '512', '-display', 'none',
     '-bios', '/usr/lib/u-boot/qemu_arm64/u-boot.bin', '-chardev', 'pty,id=s0', '-serial', 'chardev:s0',
     '-netdev', f'user,id=n0,tftp={tftp}', '-device', 'virtio-net-device,netdev=n0', '-S', '-monitor', 'stdio'],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
try:
    out = b''
    while not (m := re.search(rb'/dev/pts/\d+', out)):
        out += qemu.stdout.read1(4096)
    pty = m.group(0).decode()
    t = Target('virtual-board')
    RawSerialPort(t, name=None, port=pty, speed=115200)
    serial = SerialDriver(t, name=None)
    size = os.path.getsize(initrd)
    uboot = UBootDriver(t, name=None, prompt='=> ', autoboot='Hit any key to stop autoboot', interrupt=' ',
                        boot_command=f'booti ${{kernel_addr_r}} ${{ramdisk_addr_r}}:0x{size:x} ${{fdtcontroladdr}}')
    shell = ShellDriver(t, name=None, prompt='root@hil-guest:~# ', login_prompt='login: ', username='root')
    t.activate(serial)
    qemu.stdin.write(b'cont\n')
    qemu.stdin.flush()
    t.activate(uboot)
    uboot.run_check('setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2')
    uboot.run_check('tftpboot ${kernel_addr_r} Image')
    uboot.run_check('tftpboot ${ramdisk_addr_r} initrd')
    uboot.boot('')
    uboot.await_boot()
    t.activate(shell)
    answer = shell.run_check("pwd && echo 'guest test pass!'")
    if 'guest test pass!' not in answer:
        sys.exit(f'labgrid run: unexpected answer {answer!r}')
finally:
    qemu.kill()
    qemu.wait()
    shutil.rmtree(tftp, ignore_errors=True)
